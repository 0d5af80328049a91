// Overview.tsx: /ui/ — the last hour of every queue together (GET
// /v1/stats: completed and failed per minute, the backlog), totals over the
// queues of the first page, the workers' health and the scheduler, each from
// its own endpoint, polled every 2 s (the series every 5 s).
import type { JSX } from 'preact';
import { api } from '../api';
import type { Queue, Scheduler, Worker } from '../api';
import { Badge, ErrorNotice, Loading, Time, usePoll } from '../components';
import { duration, num } from '../format';
import { Link } from '../router';
import { useCan } from '../session';
import { StatsCharts } from '../chart';

export function Overview(): JSX.Element {
  const can = useCan();
  const queues = usePoll(() => api<{ queues: Queue[]; next: string | null }>('GET', '/v1/queues?limit=100'), 2000, []);
  const workers = usePoll(
    () => api<{ workers: Worker[]; next: string | null }>('GET', '/v1/workers?limit=100'),
    can('jobs:read') ? 2000 : 0,
    [],
  );
  const sched = usePoll(
    () => (can('cron:read') ? api<Scheduler>('GET', '/v1/scheduler') : Promise.resolve(null)),
    2000,
    [],
  );
  const qs = queues.data?.queues ?? [];
  const sum = (f: (q: Queue) => number) => qs.reduce((a, q) => a + f(q), 0);
  const oldest = qs.reduce<number | null>((a, q) => (q.oldest_ready_age_ms === null ? a : Math.max(a ?? 0, q.oldest_ready_age_ms)), null);
  const ws = workers.data?.workers ?? [];
  return (
    <div>
      <h1>Overview</h1>
      <ErrorNotice error={queues.error} />
      {!queues.data && !queues.error ? (
        <Loading />
      ) : (
        <div class="cards" aria-label="Totals">
          <Card n={num(qs.length) + (queues.data?.next ? '+' : '')} l="queues" />
          <Card n={num(sum((q) => q.counts.queued))} l="ready" />
          <Card n={num(sum((q) => q.counts.running))} l="running" />
          <Card n={num(sum((q) => q.counts.scheduled + q.counts.retrying + q.counts.pending))} l="waiting" />
          <Card n={num(sum((q) => q.counts.dead))} l="dead" />
          <Card n={oldest === null ? '—' : duration(oldest)} l="oldest ready" />
          <Card n={num(ws.filter((w) => w.health === 'healthy').length) + ' / ' + num(ws.length)} l="healthy workers" />
        </div>
      )}
      {can('jobs:read') && <StatsCharts />}
      <h2>Queues</h2>
      {qs.length === 0 && queues.data ? (
        <p class="empty">No queues yet. A queue appears with its first job: enqueue one with <code>baton enqueue QUEUE TYPE</code> or <code>POST /v1/jobs</code>.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>queue</th>
                <th class="num">ready</th>
                <th class="num">running</th>
                <th class="num opt">scheduled</th>
                <th class="num">dead</th>
                <th class="opt">oldest ready</th>
              </tr>
            </thead>
            <tbody>
              {qs.slice(0, 20).map((q) => (
                <tr key={q.name}>
                  <td>
                    <Link to={'/queues/' + encodeURIComponent(q.name)}>{q.name}</Link> {q.paused && <Badge v="paused" />}
                  </td>
                  <td class="num">{num(q.counts.queued)}</td>
                  <td class="num">{num(q.counts.running)}</td>
                  <td class="num opt">{num(q.counts.scheduled)}</td>
                  <td class="num">{num(q.counts.dead)}</td>
                  <td class="opt">{duration(q.oldest_ready_age_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="two">
        <section>
          <h2>Workers</h2>
          <ErrorNotice error={workers.error} />
          {ws.length === 0 && workers.data ? (
            <p class="empty">No worker has claimed yet. Start one with <code>baton work QUEUE -- CMD</code>.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>worker</th>
                    <th>health</th>
                    <th class="num">in flight</th>
                    <th>last seen</th>
                  </tr>
                </thead>
                <tbody>
                  {ws.slice(0, 20).map((w) => (
                    <tr key={w.id}>
                      <td class="mono">
                        <Link to={'/jobs?worker=' + encodeURIComponent(w.id)}>{w.id}</Link>
                      </td>
                      <td>
                        <Badge v={w.health} />
                      </td>
                      <td class="num">{num(w.in_flight.length)}</td>
                      <td>
                        <Time at={w.last_seen} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section>
          <h2>Scheduler</h2>
          <ErrorNotice error={sched.error} />
          {!can('cron:read') ? (
            <p class="muted">This key has no cron:read scope.</p>
          ) : sched.data ? (
            <dl class="props panel">
              <dt>leader</dt>
              <dd>{sched.data.leader ?? <span class="error">none (no node holds the lease)</span>}</dd>
              <dt>this node</dt>
              <dd>
                {sched.data.node} ({sched.data.role})
              </dd>
              <dt>heartbeat age</dt>
              <dd>{duration(sched.data.heartbeat_age_ms)}</dd>
              <dt>tick lag</dt>
              <dd>{duration(sched.data.lag_ms)}</dd>
              <dt>schedules</dt>
              <dd>
                <Link to="/cron">{num(sched.data.schedules)}</Link>, {num(sched.data.due)} due
              </dd>
              <dt>next fire</dt>
              <dd>
                <Time at={sched.data.next_due_at} />
              </dd>
            </dl>
          ) : (
            !sched.error && <Loading />
          )}
        </section>
      </div>
    </div>
  );
}

function Card(props: { n: string; l: string }): JSX.Element {
  return (
    <div class="card">
      <div class="n">{props.n}</div>
      <div class="l">{props.l}</div>
    </div>
  );
}
