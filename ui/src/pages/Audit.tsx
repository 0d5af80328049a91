// Audit.tsx: /ui/audit?action=&key_id= — the audit log (GET /v1/audit,
// admin), newest page last as the API orders it, with its filters.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, qs } from '../api';
import { Empty, ErrorNotice, Loading, Time, usePoll } from '../components';
import { num, pretty } from '../format';
import { navigate } from '../router';
import { useSession } from '../session';

interface Entry {
  id: string;
  at: string;
  key_id: string | null;
  tenant: string;
  action: string;
  target: string | null;
  request_id: string;
  status: number;
  code: string | null;
  detail: unknown;
  count: number;
}

export function AuditList(props: { query: URLSearchParams }): JSX.Element {
  const { session } = useSession();
  if (!session.scopes.includes('admin'))
    return (
      <div>
        <h1>Audit log</h1>
        <p class="empty">Reading the audit log needs the admin scope; this key has {session.scopes.join(', ')}.</p>
      </div>
    );
  return <AdminAuditList query={props.query} />;
}

function AdminAuditList(props: { query: URLSearchParams }): JSX.Element {
  const action = props.query.get('action') ?? '';
  const keyId = props.query.get('key_id') ?? '';
  const [f, setF] = useState({ action, key_id: keyId });
  const [cursors, setCursors] = useState<string[]>([]);
  useEffect(() => {
    setCursors([]);
    setF({ action, key_id: keyId });
  }, [action, keyId]);
  const after = cursors[cursors.length - 1];
  const page = usePoll(() => api<{ entries: Entry[]; next: string | null }>('GET', '/v1/audit' + qs({ action, key_id: keyId, limit: 100, after })), 3000, [action, keyId, after]);
  return (
    <div>
      <h1>Audit log</h1>
      <form
        class="actions"
        onSubmit={(e) => {
          e.preventDefault();
          navigate('/audit' + qs(f));
        }}
      >
        <label>
          action
          <input name="action" value={f.action} placeholder="queue.update" onInput={(e) => setF({ ...f, action: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          key id
          <input name="key_id" value={f.key_id} onInput={(e) => setF({ ...f, key_id: (e.target as HTMLInputElement).value })} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNotice error={page.error} />
      {!page.data ? (
        !page.error && <Loading />
      ) : page.data.entries.length === 0 ? (
        <Empty>No audit entries{action || keyId ? ' match this filter' : ''}. Changes to keys, queues, dead letters, cron schedules and sessions are recorded here.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>at</th>
                <th>action</th>
                <th>target</th>
                <th>status</th>
                <th class="opt">key</th>
                <th class="opt">detail</th>
              </tr>
            </thead>
            <tbody>
              {page.data.entries.map((e) => (
                <tr key={e.id}>
                  <td>
                    <Time at={e.at} />
                  </td>
                  <td class="mono">{e.action}</td>
                  <td class="mono">{e.target ?? '—'}</td>
                  <td>
                    <span class={'badge ' + (e.status < 400 ? 'ok' : 'error')}>{e.status}</span>
                    {e.code ? ' ' + e.code : ''}
                    {e.count > 1 ? ` ×${num(e.count)}` : ''}
                  </td>
                  <td class="mono opt">{e.key_id ?? '—'}</td>
                  <td class="mono opt small">{e.detail === null ? '' : pretty(e.detail).slice(0, 200)}</td>
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
