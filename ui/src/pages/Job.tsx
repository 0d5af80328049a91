// Job.tsx: /ui/jobs/{id} — everything GET /v1/jobs/{id} holds: state and
// timeline, payload and result (pretty JSON, collapsible), attempts with
// worker, duration and error, progress and steps, parents as links, timer or
// cron origin and correlation ids; the actions its state allows (retry,
// cancel, promote, edit, purge) for a key with jobs:write.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, enc, qs } from '../api';
import type { Job } from '../api';
import { ActButton, Badge, ConfirmButton, ErrorNotice, Json, Loading, Time, usePoll } from '../components';
import { duration, parseTime } from '../format';
import { Link, navigate } from '../router';
import { useCan } from '../session';

const TERMINAL = new Set(['completed', 'dead', 'cancelled']);
const NOT_STARTED = new Set(['pending', 'scheduled', 'queued', 'retrying']);

function span(a: string | null, b: string | null): string {
  const s = parseTime(a);
  const e = parseTime(b);
  return s !== null && e !== null ? duration(e - s) : '—';
}

export function JobPage(props: { id: string }): JSX.Element {
  const can = useCan();
  const path = '/v1/jobs/' + enc(props.id);
  const r = usePoll(() => api<{ job: Job }>('GET', path).then((x) => x.job), 2000, [props.id]);
  const [editing, setEditing] = useState(false);
  if (r.error instanceof ApiError && r.error.status === 404)
    return (
      <div>
        <h1>Job {props.id}</h1>
        <p class="empty">
          No job {props.id} in this tenant (it may have been purged by retention). <Link to="/jobs">Browse the jobs</Link>.
        </p>
      </div>
    );
  const j = r.data;
  return (
    <div>
      <h1>
        Job {props.id} {j && <Badge v={j.state} />}
      </h1>
      <ErrorNotice error={r.error} />
      {!j ? (
        !r.error && <Loading />
      ) : (
        <>
          {can('jobs:write') && (
            <div class="actions">
              {(j.state === 'dead' || j.state === 'cancelled') && (
                <ActButton label="Retry" primary act={() => api('POST', path + '/retry').then(() => 'queued again')} onDone={r.reload} />
              )}
              {(j.state === 'scheduled' || j.state === 'retrying') && (
                <ActButton label="Promote" act={() => api('POST', path + '/promote').then(() => 'ready now')} onDone={r.reload} />
              )}
              {!TERMINAL.has(j.state) && (
                <ConfirmButton
                  label="Cancel"
                  danger
                  question={j.state === 'running' ? `Job ${j.id} is running: its worker is told to stop on its next heartbeat. Cancel it?` : `Cancel job ${j.id}?`}
                  act={() => api('DELETE', path).then(() => 'cancelled')}
                  onDone={r.reload}
                />
              )}
              {NOT_STARTED.has(j.state) && (
                <button onClick={() => setEditing(!editing)} aria-expanded={editing}>
                  Edit
                </button>
              )}
              {TERMINAL.has(j.state) && (
                <ConfirmButton
                  label="Purge"
                  danger
                  question={`Delete job ${j.id} with its attempts and steps? This cannot be undone.`}
                  act={async () => {
                    await api('DELETE', path + '?purge=true');
                    navigate('/jobs' + qs({ queue: j.queue }));
                  }}
                />
              )}
            </div>
          )}
          {editing && <EditForm job={j} path={path} onSaved={() => { setEditing(false); void r.reload(); }} />}
          <div class="two">
            <section class="panel">
              <h2>Job</h2>
              <dl class="props">
                <dt>queue</dt>
                <dd>
                  <Link to={'/queues/' + enc(j.queue)}>{j.queue}</Link>
                </dd>
                <dt>type</dt>
                <dd>{j.type}</dd>
                <dt>priority</dt>
                <dd>{j.priority}</dd>
                <dt>attempt</dt>
                <dd>
                  {j.attempt} of {j.max_attempts}
                </dd>
                <dt>group</dt>
                <dd>{j.group ?? '—'}</dd>
                <dt>worker</dt>
                <dd>{j.worker ? <Link to={'/jobs' + qs({ worker: j.worker })}>{j.worker}</Link> : '—'}</dd>
                {j.cancel_requested && (
                  <>
                    <dt>cancel</dt>
                    <dd class="error">requested; the worker stops at its next heartbeat</dd>
                  </>
                )}
                {j.cancel_reason && (
                  <>
                    <dt>cancel reason</dt>
                    <dd>{j.cancel_reason}</dd>
                  </>
                )}
                {j.last_error && (
                  <>
                    <dt>last error</dt>
                    <dd class="error">{j.last_error}</dd>
                  </>
                )}
              </dl>
            </section>
            <section class="panel">
              <h2>Timeline</h2>
              <dl class="props">
                <dt>created</dt>
                <dd>
                  <Time at={j.created_at} />
                </dd>
                <dt>run at</dt>
                <dd>
                  <Time at={j.run_at} />
                </dd>
                <dt>started</dt>
                <dd>
                  <Time at={j.started_at} />
                </dd>
                {j.state === 'running' && (
                  <>
                    <dt>lease until</dt>
                    <dd>
                      <Time at={j.lease_until} />
                    </dd>
                  </>
                )}
                <dt>finished</dt>
                <dd>
                  <Time at={j.finished_at} />
                </dd>
              </dl>
            </section>
          </div>
          {j.progress && (
            <section class="panel">
              <h2>Progress</h2>
              {typeof j.progress.percent === 'number' && (
                <progress max={100} value={j.progress.percent} aria-label="percent done">
                  {j.progress.percent}%
                </progress>
              )}{' '}
              {[
                typeof j.progress.percent === 'number' ? j.progress.percent + '%' : null,
                j.progress.step ? 'step ' + j.progress.step : null,
                j.progress.message ?? null,
              ]
                .filter(Boolean)
                .join(' · ')}
            </section>
          )}
          <Json label="Payload" value={j.payload} />
          <Json label="Result" value={j.result} open={j.result !== null} />
          <h2>Attempts</h2>
          {j.attempts.length === 0 ? (
            <p class="empty">Not started yet: a worker claiming from {j.queue} will take it.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th class="num">#</th>
                    <th>worker</th>
                    <th>started</th>
                    <th class="opt">duration</th>
                    <th>outcome</th>
                    <th>error</th>
                  </tr>
                </thead>
                <tbody>
                  {j.attempts.map((a) => (
                    <tr key={a.attempt + ':' + a.started_at}>
                      <td class="num">{a.attempt}</td>
                      <td class="mono">{a.worker ?? '—'}</td>
                      <td>
                        <Time at={a.started_at} />
                      </td>
                      <td class="opt">{span(a.started_at, a.finished_at)}</td>
                      <td>
                        <Badge v={a.outcome ?? (a.finished_at ? null : 'running')} />
                      </td>
                      <td class="error">{a.error ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {j.steps.length > 0 && (
            <>
              <h2>Steps</h2>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>step</th>
                      <th class="num">attempt</th>
                      <th>started</th>
                      <th>duration</th>
                    </tr>
                  </thead>
                  <tbody>
                    {j.steps.map((s, i) => (
                      <tr key={i}>
                        <td>{s.step}</td>
                        <td class="num">{s.attempt}</td>
                        <td>
                          <Time at={s.started_at} />
                        </td>
                        <td>{s.finished_at ? span(s.started_at, s.finished_at) : 'going'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
          <h2>Origin and ids</h2>
          <dl class="props panel">
            <dt>depends on</dt>
            <dd>
              {j.depends_on.length === 0
                ? 'no parents'
                : j.depends_on.map((p, i) => (
                    <span key={p}>
                      {i > 0 && ', '}
                      <Link to={'/jobs/' + enc(p)}>{p}</Link>
                    </span>
                  ))}
              {j.depends_on.length > 0 && <span class="muted"> (on a parent's failure: {j.on_parent_failure})</span>}
            </dd>
            <dt>flow</dt>
            <dd>
              {j.flow_id ? <Link to={'/flows/' + enc(j.flow_id)}>flow {j.flow_id}</Link> : '—'}
              {j.ref && <span class="muted"> (ref {j.ref})</span>}
            </dd>
            <dt>cron</dt>
            <dd>{j.cron ? <Link to={'/cron/' + enc(j.cron.key)}>{j.cron.key}</Link> : '—'}{j.cron && <span class="muted"> run {j.cron.run}</span>}</dd>
            <dt>timer</dt>
            <dd>{j.timer ? `${j.timer.key} (version ${j.timer.version})` : '—'}</dd>
            <dt>request id</dt>
            <dd class="mono">{j.request_id ? <Link to={'/jobs' + qs({ request_id: j.request_id })}>{j.request_id}</Link> : '—'}</dd>
            <dt>execution id</dt>
            <dd class="mono">{j.execution_id ?? '—'}</dd>
            <dt>traceparent</dt>
            <dd class="mono">{j.traceparent ?? '—'}</dd>
            <dt>idempotency key</dt>
            <dd class="mono">{j.idempotency_key ?? '—'}</dd>
            <dt>dedup key</dt>
            <dd class="mono">{j.key ? <Link to={'/jobs' + qs({ key: j.key })}>{j.key}</Link> : '—'}</dd>
            <dt>version</dt>
            <dd>{j.version}</dd>
          </dl>
        </>
      )}
    </div>
  );
}

function EditForm(props: { job: Job; path: string; onSaved: () => void }): JSX.Element {
  const [priority, setPriority] = useState(props.job.priority);
  const [runAt, setRunAt] = useState(props.job.run_at ?? '');
  const [payload, setPayload] = useState(JSON.stringify(props.job.payload, null, 2));
  const [error, setError] = useState<unknown>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    let p: unknown;
    try {
      p = JSON.parse(payload);
    } catch (err) {
      setError('the payload is not valid JSON: ' + String(err));
      return;
    }
    try {
      await api('PATCH', props.path, { priority, run_at: runAt || null, payload: p });
      props.onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="panel" onSubmit={save} aria-label="Edit job">
      <div class="filters">
        <label>
          priority
          <select value={priority} onChange={(e) => setPriority((e.target as HTMLSelectElement).value)}>
            {['critical', 'high', 'normal', 'low'].map((x) => (
              <option key={x}>{x}</option>
            ))}
          </select>
        </label>
        <label>
          run at (RFC 3339)
          <input value={runAt} onInput={(e) => setRunAt((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      <label>
        payload (JSON)
        <textarea rows={8} class="mono wide" value={payload} onInput={(e) => setPayload((e.target as HTMLTextAreaElement).value)} />
      </label>
      <ErrorNotice error={error} />
      <div class="actions">
        <button class="primary" type="submit">
          Save
        </button>
      </div>
    </form>
  );
}
