// Jobs.tsx: /ui/jobs?<filters> — the job browser. Every filter of GET
// /v1/jobs is a field here and a parameter of the page's URL (so a filtered
// view can be bookmarked); pages follow the API's cursor, one page per
// request. Bulk actions (POST /v1/jobs/bulk) act on the filter, after a
// confirmation that says how many jobs match it.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, qs, STATES } from '../api';
import type { Job, Queue } from '../api';
import { Badge, ConfirmButton, Empty, ErrorNotice, Loading, Time, usePoll } from '../components';
import { num } from '../format';
import { Link, navigate } from '../router';
import { useCan } from '../session';

export const FILTERS = [
  'queue',
  'state',
  'type',
  'group',
  'key',
  'idempotency_key',
  'request_id',
  'execution_id',
  'worker',
  'created_after',
  'created_before',
  'finished_after',
  'finished_before',
] as const;
type Filter = Partial<Record<(typeof FILTERS)[number] | 'order', string>>;

const MAIN_FILTERS = ['queue', 'type', 'group'] as const;
const MORE_FILTERS = FILTERS.filter((k) => k !== 'state' && !(MAIN_FILTERS as readonly string[]).includes(k));
const TIME_FILTERS = new Set(['created_after', 'created_before', 'finished_after', 'finished_before']);
const PAGE = 50;
const COUNT_PAGE = 1000;
const COUNT_PAGES_MAX = 10;

function filterOf(query: URLSearchParams): Filter {
  const f: Filter = {};
  for (const k of [...FILTERS, 'order'] as const) {
    const v = query.get(k);
    if (v) f[k] = v;
  }
  return f;
}

/* How many jobs match f: exact from the queue's counts when the filter is a
 * queue and states only, else counted a page at a time (at most
 * COUNT_PAGES_MAX pages: "at least"). */
async function countMatching(f: Filter): Promise<{ n: number; atLeast: boolean }> {
  const keys = Object.keys(f).filter((k) => k !== 'order');
  if (f.queue && keys.every((k) => k === 'queue' || k === 'state')) {
    const q = (await api<{ queue: Queue }>('GET', '/v1/queues/' + encodeURIComponent(f.queue))).queue;
    const states = f.state ? f.state.split(',') : [...STATES];
    return { n: states.reduce((a, s) => a + (q.counts[s as keyof Queue['counts']] ?? 0), 0), atLeast: false };
  }
  let n = 0;
  let after: string | null | undefined;
  for (let i = 0; i < COUNT_PAGES_MAX; i++) {
    const r = await api<{ jobs: Job[]; next: string | null }>('GET', '/v1/jobs' + qs({ ...f, order: undefined, limit: COUNT_PAGE, after }));
    n += r.jobs.length;
    after = r.next;
    if (!after) return { n, atLeast: false };
  }
  return { n, atLeast: true };
}

const ACTIONS: { action: string; label: string; applies: string; danger: boolean }[] = [
  { action: 'retry', label: 'Retry all', applies: 'dead and cancelled ones run again', danger: false },
  { action: 'promote', label: 'Promote all', applies: 'scheduled and retrying ones become ready now', danger: false },
  { action: 'cancel', label: 'Cancel all', applies: 'those not ended are cancelled (running ones when they next heartbeat)', danger: true },
  { action: 'purge', label: 'Purge all', applies: 'ended ones are deleted with their history', danger: true },
];

export function JobList(props: { query: URLSearchParams }): JSX.Element {
  const can = useCan();
  const filter = filterOf(props.query);
  const fkey = JSON.stringify(filter);
  const [cursors, setCursors] = useState<string[]>([]);
  useEffect(() => setCursors([]), [fkey]);
  const after = cursors[cursors.length - 1];
  const page = usePoll(() => api<{ jobs: Job[]; next: string | null }>('GET', '/v1/jobs' + qs({ ...filter, limit: PAGE, after })), 2000, [fkey, after]);
  const bulkFilter = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(filter)) if (k !== 'order') o[k] = k === 'state' ? v.split(',') : v;
    return o;
  };
  return (
    <div>
      <h1>Jobs</h1>
      <FilterForm filter={filter} />
      {can('jobs:write') && (
        <div class="actions" aria-label="Bulk actions on the filter">
          {ACTIONS.map((a) => (
            <ConfirmButton
              key={a.action}
              label={a.label}
              danger={a.danger}
              question={async () => {
                const c = await countMatching(filter);
                const what = Object.keys(filter).filter((k) => k !== 'order').length ? 'match this filter' : 'are in this tenant (no filter)';
                return `${c.atLeast ? 'At least ' : ''}${num(c.n)} jobs ${what}: ${a.action} touches all of them (${a.applies}; the others stay as they are). Go on?`;
              }}
              act={async () => {
                let matched = 0;
                let changed = 0;
                let next: string | null = null;
                for (let i = 0; i < 10000; i++) {
                  const r: { matched: number; changed: number; next: string | null } = await api('POST', '/v1/jobs/bulk', {
                    action: a.action,
                    filter: bulkFilter(),
                    limit: 1000,
                    ...(next ? { after: next } : {}),
                  });
                  matched += r.matched;
                  changed += r.changed;
                  next = r.next;
                  if (!next) break;
                }
                return `${a.action}: ${num(matched)} matched, ${num(changed)} changed`;
              }}
              onDone={page.reload}
            />
          ))}
        </div>
      )}
      <ErrorNotice error={page.error} />
      {!page.data ? (
        !page.error && <Loading />
      ) : page.data.jobs.length === 0 ? (
        <Empty>
          {cursors.length
            ? 'No more jobs: this was the last page.'
            : Object.keys(filter).length
              ? 'No job matches this filter. Loosen it, or clear it to see every job.'
              : 'No jobs yet. Enqueue one with baton enqueue QUEUE TYPE or POST /v1/jobs.'}
        </Empty>
      ) : (
        <JobTable jobs={page.data.jobs} />
      )}
      <div class="actions">
        <button disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button disabled={!page.data?.next} onClick={() => page.data?.next && setCursors([...cursors, page.data.next])}>
          Next page
        </button>
        <span class="muted">
          page {cursors.length + 1}, {PAGE} per page
        </span>
      </div>
    </div>
  );
}

export function JobTable(props: {
  jobs: Job[];
  select?: Set<string>;
  onSelect?: (id: string, on: boolean) => void;
  rowAction?: (j: Job) => JSX.Element;
}): JSX.Element {
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            {props.select && <th aria-label="select" />}
            <th>id</th>
            <th>queue</th>
            <th>type</th>
            <th>state</th>
            <th class="num opt">attempt</th>
            <th class="opt">created</th>
            <th class="opt">{props.select ? 'error' : 'finished'}</th>
            {props.rowAction && <th aria-label="actions" />}
          </tr>
        </thead>
        <tbody>
          {props.jobs.map((j) => (
            <tr key={j.id}>
              {props.select && (
                <td>
                  <input
                    type="checkbox"
                    aria-label={'select job ' + j.id}
                    checked={props.select.has(j.id)}
                    onChange={(e) => props.onSelect?.(j.id, (e.target as HTMLInputElement).checked)}
                  />
                </td>
              )}
              <td class="mono">
                <Link to={'/jobs/' + encodeURIComponent(j.id)}>{j.id}</Link>
              </td>
              <td>
                <Link to={'/queues/' + encodeURIComponent(j.queue)}>{j.queue}</Link>
              </td>
              <td>{j.type}</td>
              <td>
                <Badge v={j.state} />
              </td>
              <td class="num opt">
                {j.attempt}/{j.max_attempts}
              </td>
              <td class="opt">
                <Time at={j.created_at} />
              </td>
              <td class="opt">{props.select ? <span class="error">{j.last_error ?? ''}</span> : <Time at={j.finished_at} />}</td>
              {props.rowAction && <td>{props.rowAction(j)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function FilterForm(props: { filter: Filter }): JSX.Element {
  const [f, setF] = useState<Filter>(props.filter);
  const fkey = JSON.stringify(props.filter);
  useEffect(() => setF(props.filter), [fkey]);
  const states = new Set((f.state ?? '').split(',').filter(Boolean));
  const apply = (e: Event) => {
    e.preventDefault();
    navigate('/jobs' + qs(f));
  };
  const text = (k: (typeof FILTERS)[number]) => {
    const isTime = TIME_FILTERS.has(k);
    return (
      <label key={k}>
        {k.replace(/_/g, ' ')}
        <input
          name={k}
          value={f[k] ?? ''}
          placeholder={isTime ? '2026-12-07T10:00:00Z' : ''}
          onInput={(e) => setF({ ...f, [k]: (e.target as HTMLInputElement).value })}
        />
      </label>
    );
  };
  return (
    <form class="panel" onSubmit={apply} aria-label="Filters">
      <fieldset class="states">
        <legend>state</legend>
        {STATES.map((s) => (
          <label key={s} class="check">
            <input
              type="checkbox"
              name={'state-' + s}
              checked={states.has(s)}
              onChange={(e) => {
                const n = new Set(states);
                if ((e.target as HTMLInputElement).checked) n.add(s);
                else n.delete(s);
                setF({ ...f, state: STATES.filter((x) => n.has(x)).join(',') });
              }}
            />{' '}
            {s}
          </label>
        ))}
      </fieldset>
      <div class="filters">
        {MAIN_FILTERS.map(text)}
        <label>
          order
          <select name="order" value={f.order ?? 'asc'} onChange={(e) => setF({ ...f, order: (e.target as HTMLSelectElement).value })}>
            <option value="asc">oldest first</option>
            <option value="desc">newest first</option>
          </select>
        </label>
      </div>
      <details class="more" open={MORE_FILTERS.some((k) => props.filter[k])}>
        <summary>More filters (ids, worker, times)</summary>
        <div class="filters">{MORE_FILTERS.map(text)}</div>
      </details>
      <div class="actions">
        <button class="primary" type="submit">
          Apply filters
        </button>
        <button type="button" onClick={() => navigate('/jobs')}>
          Clear
        </button>
      </div>
    </form>
  );
}
