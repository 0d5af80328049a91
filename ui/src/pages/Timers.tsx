// Timers.tsx: /ui/timers?prefix= — the tenant's durable timers (GET
// /v1/timers) in key order: state, when each fires, its job template and the
// job of its latest firing; cancel one (jobs:write).
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, enc, qs } from '../api';
import { Badge, ConfirmButton, Empty, ErrorNotice, Loading, Time, usePoll } from '../components';
import { Link, navigate } from '../router';
import { useCan } from '../session';

interface Timer {
  key: string;
  version: number;
  state: string;
  fire_at: string;
  queue: string;
  type: string;
  job_id: string | null;
  fired_at: string | null;
  deferred: unknown;
}

export function TimerList(props: { query: URLSearchParams }): JSX.Element {
  const can = useCan();
  const prefix = props.query.get('prefix') ?? '';
  const [input, setInput] = useState(prefix);
  const [cursors, setCursors] = useState<string[]>([]);
  useEffect(() => {
    setCursors([]);
    setInput(prefix);
  }, [prefix]);
  const after = cursors[cursors.length - 1];
  const page = usePoll(() => api<{ timers: Timer[]; next: string | null }>('GET', '/v1/timers' + qs({ prefix, limit: 100, after })), 2000, [prefix, after]);
  return (
    <div>
      <h1>Timers</h1>
      <form
        class="actions"
        onSubmit={(e) => {
          e.preventDefault();
          navigate('/timers' + qs({ prefix: input }));
        }}
      >
        <label>
          key prefix
          <input name="prefix" value={input} onInput={(e) => setInput((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNotice error={page.error} />
      {!page.data ? (
        !page.error && <Loading />
      ) : page.data.timers.length === 0 ? (
        <Empty>
          {prefix ? `No timer key starts with "${prefix}".` : 'No timers yet.'} A timer is made with <code>PUT /v1/timers/{'{key}'}</code> or{' '}
          <code>baton timer put KEY --in 30s --queue Q --type T</code>.
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>key</th>
                <th>state</th>
                <th>fires</th>
                <th class="opt">job</th>
                <th class="opt">last fired</th>
                {can('jobs:write') && <th aria-label="actions" />}
              </tr>
            </thead>
            <tbody>
              {page.data.timers.map((t) => (
                <tr key={t.key}>
                  <td class="mono">
                    {t.key} <span class="muted">v{t.version}</span>
                  </td>
                  <td>
                    <Badge v={t.state} /> {t.deferred ? <span class="muted">(deferred: its queue is full)</span> : null}
                  </td>
                  <td>{t.state === 'scheduled' ? <Time at={t.fire_at} /> : <span class="muted">—</span>}</td>
                  <td class="opt">
                    <Link to={'/queues/' + enc(t.queue)}>{t.queue}</Link> / {t.type}
                  </td>
                  <td class="opt">
                    {t.job_id ? (
                      <>
                        <Link to={'/jobs/' + enc(t.job_id)}>job {t.job_id}</Link> <Time at={t.fired_at} />
                      </>
                    ) : (
                      <span class="muted">never</span>
                    )}
                  </td>
                  {can('jobs:write') && (
                    <td>
                      {t.state === 'scheduled' && (
                        <ConfirmButton
                          label="Cancel"
                          danger
                          question={`Cancel timer ${t.key} (version ${t.version})? It will not fire.`}
                          act={() => api('DELETE', '/v1/timers/' + enc(t.key) + qs({ if_version: t.version })).then(() => 'cancelled')}
                          onDone={page.reload}
                        />
                      )}
                    </td>
                  )}
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
