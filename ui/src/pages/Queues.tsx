// Queues.tsx: /ui/queues — every queue of the tenant with its counts by
// state, a page of 100 at a time (the cursor of GET /v1/queues).
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, qs, STATES } from '../api';
import type { Queue } from '../api';
import { Badge, Empty, ErrorNotice, Loading, usePoll } from '../components';
import { duration, num } from '../format';
import { Link } from '../router';

export function QueueList(): JSX.Element {
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1];
  const page = usePoll(() => api<{ queues: Queue[]; next: string | null }>('GET', '/v1/queues' + qs({ limit: 100, after })), 2000, [after]);
  return (
    <div>
      <h1>Queues</h1>
      <ErrorNotice error={page.error} />
      {!page.data ? (
        !page.error && <Loading />
      ) : page.data.queues.length === 0 ? (
        <Empty>
          No queues yet. A queue appears with its first job (<code>baton enqueue QUEUE TYPE</code>) or its first setting
          (<code>baton queue set QUEUE --concurrency 4</code>).
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>queue</th>
                {STATES.map((s) => (
                  <th key={s} class={'num' + (s === 'pending' || s === 'cancelled' || s === 'retrying' ? ' opt' : '')}>
                    {s}
                  </th>
                ))}
                <th class="opt">oldest ready</th>
              </tr>
            </thead>
            <tbody>
              {page.data.queues.map((q) => (
                <tr key={q.name}>
                  <td>
                    <Link to={'/queues/' + encodeURIComponent(q.name)}>{q.name}</Link> {q.paused && <Badge v="paused" />}
                  </td>
                  {STATES.map((s) => (
                    <td key={s} class={'num' + (s === 'pending' || s === 'cancelled' || s === 'retrying' ? ' opt' : '')}>
                      {q.counts[s] ? <Link to={'/jobs' + qs({ queue: q.name, state: s })}>{num(q.counts[s])}</Link> : <span class="muted">0</span>}
                    </td>
                  ))}
                  <td class="opt">{duration(q.oldest_ready_age_ms)}</td>
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
