// Keys.tsx: /ui/keys — the API keys of the tenant (admin): create one (its
// secret is shown once, in this page only), rotate (a new secret, shown
// once; the old one works for the grace period) and revoke. Secrets are
// never stored by the page.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc, qs } from '../api';
import { Badge, ConfirmButton, Empty, ErrorNotice, Loading, Time, usePoll } from '../components';
import { useSession } from '../session';

interface Key {
  id: string;
  name: string;
  tenant: string;
  scopes: string[];
  state: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  previous_valid_until: string | null;
  created_by: string;
}

const SCOPES = ['jobs:write', 'jobs:read', 'work', 'cron:read', 'cron:write', 'cron:run', 'admin', 'metrics'];

export function KeyList(): JSX.Element {
  const { session } = useSession();
  if (!session.scopes.includes('admin'))
    return (
      <div>
        <h1>API keys</h1>
        <p class="empty">Listing and changing keys needs the admin scope; this key has {session.scopes.join(', ')}.</p>
      </div>
    );
  return <AdminKeyList />;
}

function AdminKeyList(): JSX.Element {
  const { session } = useSession();
  const [cursors, setCursors] = useState<string[]>([]);
  const [secret, setSecret] = useState<{ id: string; secret: string; what: string } | null>(null);
  const after = cursors[cursors.length - 1];
  const page = usePoll(() => api<{ keys: Key[]; next: string | null }>('GET', '/v1/keys' + qs({ limit: 100, after })), 5000, [after]);
  return (
    <div>
      <h1>API keys</h1>
      {secret && (
        <div class="notice ok" role="status">
          <p>
            {secret.what} key <code>{secret.id}</code>. Its secret is shown this once: copy it now.
          </p>
          <pre class="secret">{secret.secret}</pre>
          <button onClick={() => setSecret(null)}>I have copied it</button>
        </div>
      )}
      <CreateForm
        onCreated={(id, s) => {
          setSecret({ id, secret: s, what: 'Created' });
          void page.reload();
        }}
      />
      <ErrorNotice error={page.error} />
      {!page.data ? (
        !page.error && <Loading />
      ) : page.data.keys.length === 0 ? (
        <Empty>No keys.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>key</th>
                <th>state</th>
                <th>scopes</th>
                <th class="opt">created</th>
                <th class="opt">expires</th>
                <th aria-label="actions" />
              </tr>
            </thead>
            <tbody>
              {page.data.keys.map((k) => (
                <tr key={k.id}>
                  <td>
                    {k.name}
                    <div class="mono small muted">
                      {k.id}
                      {k.id === session.key_id ? ' (this session)' : ''}
                    </div>
                  </td>
                  <td>
                    <Badge v={k.state} />
                    {k.previous_valid_until && (
                      <div class="small muted">
                        old secret until <Time at={k.previous_valid_until} />
                      </div>
                    )}
                  </td>
                  <td class="small">{k.scopes.join(', ')}</td>
                  <td class="opt">
                    <Time at={k.created_at} />
                  </td>
                  <td class="opt">{k.expires_at ? <Time at={k.expires_at} /> : <span class="muted">never</span>}</td>
                  <td>
                    {k.state === 'active' && (
                      <span class="confirm">
                        <ConfirmButton
                          label="Rotate"
                          question={`Give key ${k.name} (${k.id}) a new secret? The old one keeps working for 10 minutes${k.id === session.key_id ? '; this session signed in with it and ends then' : ''}.`}
                          act={async () => {
                            const r = await api<{ secret: string }>('POST', '/v1/keys/' + enc(k.id) + '/rotate', { grace_ms: 600000 });
                            setSecret({ id: k.id, secret: r.secret, what: 'Rotated' });
                            return 'rotated';
                          }}
                          onDone={page.reload}
                        />
                        <ConfirmButton
                          label="Revoke"
                          danger
                          question={`Revoke key ${k.name} (${k.id})? It is refused from the next request on${k.id === session.key_id ? ', and this session ends with it' : ''}.`}
                          act={() => api('DELETE', '/v1/keys/' + enc(k.id)).then(() => 'revoked')}
                          onDone={page.reload}
                        />
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions">
        <button disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button disabled={!page.data?.next} onClick={() => page.data?.next && setCursors([...cursors, page.data.next])}>
          Next page
        </button>
      </div>
    </div>
  );
}

function CreateForm(props: { onCreated: (id: string, secret: string) => void }): JSX.Element {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<string>>(new Set(['jobs:read']));
  const [expires, setExpires] = useState('');
  const [error, setError] = useState<unknown>(null);
  if (!open)
    return (
      <div class="actions">
        <button class="primary" onClick={() => setOpen(true)}>
          Create a key
        </button>
      </div>
    );
  return (
    <form
      class="panel"
      aria-label="Create a key"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          const r = await api<{ key: Key; secret: string }>('POST', '/v1/keys', {
            name,
            scopes: SCOPES.filter((s) => scopes.has(s)),
            ...(expires ? { expires_at: expires } : {}),
          });
          setOpen(false);
          setName('');
          props.onCreated(r.key.id, r.secret);
        } catch (err) {
          setError(err);
        }
      }}
    >
      <div class="filters">
        <label>
          name
          <input name="name" value={name} required onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          expires at (RFC 3339, empty: never)
          <input name="expires_at" value={expires} onInput={(e) => setExpires((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      <fieldset class="states">
        <legend>scopes</legend>
        {SCOPES.map((s) => (
          <label key={s} class="check">
            <input
              type="checkbox"
              name={'scope-' + s}
              checked={scopes.has(s)}
              onChange={(e) => {
                const n = new Set(scopes);
                if ((e.target as HTMLInputElement).checked) n.add(s);
                else n.delete(s);
                setScopes(n);
              }}
            />{' '}
            {s}
          </label>
        ))}
      </fieldset>
      <ErrorNotice error={error} />
      <div class="actions">
        <button class="primary" type="submit" disabled={!name || scopes.size === 0}>
          Create
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
