// Queue.tsx: /ui/queues/{name} — counts by state (each a link to the job
// browser), limits and group settings, defaults and retention; pause,
// resume, drain and a form for the limits (PATCH /v1/queues/{queue}, admin).
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, enc, qs, STATES } from '../api';
import type { Queue, Rate } from '../api';
import { ActButton, Badge, ConfirmButton, ErrorNotice, Loading, Time, usePoll } from '../components';
import { duration, num } from '../format';
import { Link } from '../router';
import { useCan } from '../session';
import { StatsCharts } from '../chart';

function rate(r: Rate | null): string {
  return r ? `${num(r.max)} per ${duration(r.per_ms)}` : 'none';
}

export function QueuePage(props: { name: string }): JSX.Element {
  const can = useCan();
  const path = '/v1/queues/' + enc(props.name);
  const q = usePoll(() => api<{ queue: Queue }>('GET', path).then((r) => r.queue), 1000, [props.name]);
  const [editing, setEditing] = useState(false);
  if (q.error instanceof ApiError && q.error.status === 404)
    return (
      <div>
        <h1>Queue {props.name}</h1>
        <p class="empty">
          There is no queue <code>{props.name}</code> in this tenant. <Link to="/queues">See every queue</Link>.
        </p>
      </div>
    );
  const d = q.data;
  const notStarted = d ? d.counts.pending + d.counts.scheduled + d.counts.queued + d.counts.retrying : 0;
  return (
    <div>
      <h1>
        Queue {props.name} {d?.paused && <Badge v="paused" />}
      </h1>
      <ErrorNotice error={q.error} />
      {!d ? (
        !q.error && <Loading />
      ) : (
        <>
          {can('admin') && (
            <div class="actions">
              {d.paused ? (
                <ActButton label="Resume" primary act={() => api('PATCH', path, { paused: false }).then(() => 'resumed')} onDone={q.reload} />
              ) : (
                <ActButton label="Pause" act={() => api('PATCH', path, { paused: true }).then(() => 'paused: claims get nothing')} onDone={q.reload} />
              )}
              <ConfirmButton
                label="Drain"
                danger
                question={`Cancel the ${num(notStarted)} jobs of ${props.name} that have not started (pending, scheduled, queued, retrying)? Running jobs finish; ended jobs stay.`}
                act={async () => {
                  let total = 0;
                  for (let i = 0; i < 1000; i++) {
                    const r = await api<{ cancelled: number; more: boolean }>('POST', path + '/drain');
                    total += r.cancelled;
                    if (!r.more) break;
                  }
                  return `drained: ${num(total)} cancelled`;
                }}
                onDone={q.reload}
              />
              <button onClick={() => setEditing(!editing)} aria-expanded={editing}>
                Edit limits
              </button>
            </div>
          )}
          {editing && <LimitsForm q={d} path={path} onSaved={() => { setEditing(false); void q.reload(); }} />}
          <div class="cards states8" aria-label="Jobs by state">
            {STATES.map((s) => (
              <Link key={s} to={'/jobs' + qs({ queue: props.name, state: s })} class="card">
                <div class="n">{num(d.counts[s])}</div>
                <div class="l">{s}</div>
              </Link>
            ))}
          </div>
          <StatsCharts queue={props.name} />
          <div class="two">
            <section class="panel">
              <h2>Limits</h2>
              <dl class="props">
                <dt>concurrency</dt>
                <dd>{d.concurrency === null ? 'none' : num(d.concurrency)} (running {num(d.running)})</dd>
                <dt>rate</dt>
                <dd>{rate(d.rate)}</dd>
                <dt>max depth</dt>
                <dd>{d.max_depth === null ? 'none' : num(d.max_depth)} (depth {num(d.depth)})</dd>
                <dt>group concurrency</dt>
                <dd>{d.group_concurrency === null ? 'none' : num(d.group_concurrency)}</dd>
                <dt>group rate</dt>
                <dd>{rate(d.group_rate)}</dd>
                <dt>oldest ready</dt>
                <dd>{duration(d.oldest_ready_age_ms)}</dd>
              </dl>
            </section>
            <section class="panel">
              <h2>Defaults and retention</h2>
              <dl class="props">
                <dt>max attempts</dt>
                <dd>{d.defaults.max_attempts ?? 'server default'}</dd>
                <dt>lease</dt>
                <dd>{d.defaults.lease_ms === null ? 'server default' : duration(d.defaults.lease_ms)}</dd>
                <dt>timeout</dt>
                <dd>{d.defaults.timeout_ms === null ? 'none' : duration(d.defaults.timeout_ms)}</dd>
                <dt>keep completed</dt>
                <dd>{d.retention?.completed_ms ? duration(d.retention.completed_ms) : 'server default'}</dd>
                <dt>keep dead</dt>
                <dd>{d.retention?.dead_ms ? duration(d.retention.dead_ms) : 'server default'}</dd>
                <dt>settings changed</dt>
                <dd>
                  <Time at={d.settings_updated_at} />
                </dd>
              </dl>
            </section>
          </div>
          <p>
            <Link to={'/dead' + qs({ queue: props.name })}>Dead letters of {props.name}</Link> ·{' '}
            <Link to={'/jobs' + qs({ queue: props.name, order: 'desc' })}>Newest jobs</Link>
          </p>
        </>
      )}
    </div>
  );
}

function intOrNull(s: string): number | null {
  const t = s.trim();
  return t === '' ? null : Number(t);
}

function LimitsForm(props: { q: Queue; path: string; onSaved: () => void }): JSX.Element {
  const q = props.q;
  const [v, setV] = useState({
    concurrency: q.concurrency?.toString() ?? '',
    max_depth: q.max_depth?.toString() ?? '',
    group_concurrency: q.group_concurrency?.toString() ?? '',
    rate_max: q.rate?.max.toString() ?? '',
    rate_per_ms: q.rate?.per_ms.toString() ?? '',
    group_rate_max: q.group_rate?.max.toString() ?? '',
    group_rate_per_ms: q.group_rate?.per_ms.toString() ?? '',
  });
  const [error, setError] = useState<unknown>(null);
  const field = (k: keyof typeof v, label: string) => (
    <label>
      {label}
      <input inputMode="numeric" value={v[k]} placeholder="none" onInput={(e) => setV({ ...v, [k]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const r = (m: string, p: string) => (m.trim() === '' && p.trim() === '' ? null : { max: Number(m), per_ms: Number(p) });
    try {
      await api('PATCH', props.path, {
        concurrency: intOrNull(v.concurrency),
        max_depth: intOrNull(v.max_depth),
        group_concurrency: intOrNull(v.group_concurrency),
        rate: r(v.rate_max, v.rate_per_ms),
        group_rate: r(v.group_rate_max, v.group_rate_per_ms),
      });
      props.onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="panel" onSubmit={save} aria-label="Edit limits">
      <p class="muted">Empty means no limit. The change is atomic: one refused value refuses all.</p>
      <div class="filters">
        {field('concurrency', 'concurrency')}
        {field('max_depth', 'max depth')}
        {field('group_concurrency', 'group concurrency')}
        {field('rate_max', 'rate: max starts')}
        {field('rate_per_ms', 'rate: per ms')}
        {field('group_rate_max', 'group rate: max')}
        {field('group_rate_per_ms', 'group rate: per ms')}
      </div>
      <ErrorNotice error={error} />
      <div class="actions">
        <button class="primary" type="submit">
          Save limits
        </button>
      </div>
    </form>
  );
}
