// Workers.tsx: /ui/workers — the worker registry (GET /v1/workers): health,
// the jobs each holds now, its queues, counts and last sign of life.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc, qs } from '../api';
import type { Worker } from '../api';
import { Badge, Empty, ErrorNotice, Loading, Time, usePoll } from '../components';
import { num } from '../format';
import { Link } from '../router';

export function WorkerList(): JSX.Element {
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1];
  const page = usePoll(() => api<{ workers: Worker[]; next: string | null }>('GET', '/v1/workers' + qs({ limit: 100, after })), 2000, [after]);
  return (
    <div>
      <h1>Workers</h1>
      <ErrorNotice error={page.error} />
      {!page.data ? (
        !page.error && <Loading />
      ) : page.data.workers.length === 0 ? (
        <Empty>
          No worker has claimed a job yet. Start one with <code>baton work --queue Q -- CMD</code>, or any client that claims with a
          <code> worker</code> id.
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>worker</th>
                <th>health</th>
                <th>in flight</th>
                <th class="opt">queues</th>
                <th class="num opt">completed</th>
                <th class="num opt">failed</th>
                <th>last seen</th>
              </tr>
            </thead>
            <tbody>
              {page.data.workers.map((w) => (
                <tr key={w.id}>
                  <td class="mono">
                    <Link to={'/jobs' + qs({ worker: w.id, order: 'desc' })}>{w.id}</Link>
                  </td>
                  <td>
                    <Badge v={w.health} />
                  </td>
                  <td class="mono">
                    {w.in_flight.length === 0
                      ? <span class="muted">idle</span>
                      : w.in_flight.slice(0, 5).map((id, i) => (
                          <span key={id}>
                            {i > 0 && ', '}
                            <Link to={'/jobs/' + enc(id)}>{id}</Link>
                          </span>
                        ))}
                    {w.in_flight.length > 5 && <span class="muted"> and {num(w.in_flight.length - 5)} more</span>}
                  </td>
                  <td class="opt">
                    {w.queues.map((q, i) => (
                      <span key={q}>
                        {i > 0 && ', '}
                        <Link to={'/queues/' + enc(q)}>{q}</Link>
                      </span>
                    ))}
                  </td>
                  <td class="num opt">{num(w.completed)}</td>
                  <td class="num opt">{num(w.failed)}</td>
                  <td>
                    <Time at={w.last_seen} />
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
