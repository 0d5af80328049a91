// CronOne.tsx: /ui/cron/{key} — one schedule: expression and its English
// description, zone, the next 10 fire times in its zone and the viewer's,
// last run, enabled and paused; pause and resume (cron:write), run now
// (cron:run; a 409 already_running is said plainly, with the going job), and
// the run history with outcomes.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, enc, qs } from '../api';
import type { CronRun, Preview, Schedule } from '../api';
import { Badge, Empty, ErrorNotice, Loading, Time, usePoll } from '../components';
import { absolute, duration, parseTime } from '../format';
import { Link } from '../router';
import { useCan } from '../session';
import { NextFire, useDescription } from './Cron';

export function CronPage(props: { cronKey: string }): JSX.Element {
  const can = useCan();
  const path = '/v1/cron/' + enc(props.cronKey);
  const s = usePoll(() => api<{ schedule: Schedule }>('GET', path).then((r) => r.schedule), 2000, [props.cronKey]);
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1];
  const runs = usePoll(() => api<{ runs: CronRun[]; next: string | null }>('GET', path + '/runs' + qs({ limit: 20, after })), 2000, [props.cronKey, after]);
  const [outcome, setOutcome] = useState<JSX.Element | null>(null);
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);
  const d = s.data;
  const act = async (what: 'pause' | 'resume' | 'run') => {
    setBusy(true);
    setOutcome(null);
    try {
      if (what === 'run') {
        const r = await api<{ run: CronRun }>('POST', path + '/run');
        setOutcome(
          <span class="ok">
            Started run {r.run.id}
            {r.run.job_id && (
              <>
                : job <Link to={'/jobs/' + enc(r.run.job_id)}>{r.run.job_id}</Link>
              </>
            )}
            .
          </span>,
        );
      } else {
        await api('POST', path + '/' + what);
        setOutcome(<span class="ok">{what === 'pause' ? 'Paused: ticks are skipped until resumed.' : 'Resumed.'}</span>);
      }
      void s.reload();
      void runs.reload();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'already_running')
        setOutcome(
          <span class="error">
            Already running: a run of {props.cronKey} is still going
            {e.jobId && (
              <>
                {' '}
                (job <Link to={'/jobs/' + enc(e.jobId)}>{e.jobId}</Link>)
              </>
            )}
            , and its overlap policy ({d?.overlap}) does not start another. Nothing was started.
          </span>,
        );
      else setOutcome(<span class="error">{e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)}</span>);
    } finally {
      setBusy(false);
    }
  };
  if (s.error instanceof ApiError && s.error.status === 404)
    return (
      <div>
        <h1>Schedule {props.cronKey}</h1>
        <p class="empty">
          No schedule {props.cronKey} in this tenant. <Link to="/cron">See every schedule</Link>.
        </p>
      </div>
    );
  return (
    <div>
      <h1>
        Schedule {props.cronKey} {d && (!d.enabled ? <Badge v="cancelled" /> : d.paused ? <Badge v="paused" /> : <Badge v="enabled" />)}
      </h1>
      <ErrorNotice error={s.error} />
      {!d ? (
        !s.error && <Loading />
      ) : (
        <>
          {(can('cron:write') || can('cron:run')) && (
            <div class="actions">
              {can('cron:run') && (
                <button class="primary" disabled={busy} onClick={() => act('run')}>
                  Run now
                </button>
              )}
              {can('cron:write') && (
                <button onClick={() => setEditing(!editing)} aria-expanded={editing}>
                  Edit
                </button>
              )}
              {can('cron:write') &&
                (d.paused ? (
                  <button disabled={busy} onClick={() => act('resume')}>
                    Resume
                  </button>
                ) : (
                  <button disabled={busy} onClick={() => act('pause')}>
                    Pause
                  </button>
                ))}
            </div>
          )}
          {outcome && (
            <div class="notice" role="status">
              {outcome}
            </div>
          )}
          {editing && (
            <EditSchedule
              s={d}
              path={path}
              onSaved={() => {
                setEditing(false);
                void s.reload();
              }}
            />
          )}
          <div class="two">
            <section class="panel">
              <h2>Schedule</h2>
              <Details s={d} />
            </section>
            <section class="panel">
              <h2>Next fires</h2>
              <NextTen cron={d.cron} zone={d.timezone} active={d.enabled && !d.paused} />
            </section>
          </div>
          <h2>Runs</h2>
          <ErrorNotice error={runs.error} />
          {!runs.data ? (
            !runs.error && <Loading />
          ) : runs.data.runs.length === 0 ? (
            <Empty>No runs yet: the first tick, or Run now, records one here.</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>run</th>
                    <th>trigger</th>
                    <th>fired</th>
                    <th>status</th>
                    <th class="opt">duration</th>
                    <th>job</th>
                    <th class="opt">reason / error</th>
                  </tr>
                </thead>
                <tbody>
                  {runs.data.runs.map((r) => (
                    <tr key={r.id}>
                      <td class="mono">{r.id}</td>
                      <td>{r.trigger}</td>
                      <td>
                        <Time at={r.fired_at ?? r.scheduled_at} />
                      </td>
                      <td>
                        <Badge v={r.status} />
                      </td>
                      <td class="opt">{duration(r.duration_ms)}</td>
                      <td class="mono">{r.job_id ? <Link to={'/jobs/' + enc(r.job_id)}>{r.job_id}</Link> : '—'}</td>
                      <td class="opt">{r.reason ?? <span class="error">{r.error ?? ''}</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div class="actions">
            <button disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
              Newer runs
            </button>
            <button disabled={!runs.data?.next} onClick={() => runs.data?.next && setCursors([...cursors, runs.data.next])}>
              Older runs
            </button>
          </div>
        </>
      )}
    </div>
  );
}

function Details(props: { s: Schedule }): JSX.Element {
  const s = props.s;
  const desc = useDescription(s.cron, s.timezone);
  return (
    <dl class="props">
      <dt>expression</dt>
      <dd>
        <code>{s.cron}</code>
      </dd>
      <dt>means</dt>
      <dd>{desc ?? '…'}</dd>
      <dt>zone</dt>
      <dd>{s.timezone}</dd>
      <dt>next fire</dt>
      <dd>
        <NextFire at={s.next_fire_at} zone={s.timezone} />
      </dd>
      <dt>job</dt>
      <dd>
        <Link to={'/queues/' + enc(s.job.queue)}>{s.job.queue}</Link> / {s.job.type}
      </dd>
      <dt>overlap, misfire</dt>
      <dd>
        {s.overlap}, {s.misfire}
      </dd>
      <dt>last run</dt>
      <dd>
        {s.last_run ? (
          <>
            <Time at={s.last_run.fired_at} /> <Badge v={s.last_status} />
          </>
        ) : (
          'never'
        )}
      </dd>
      {s.paused && s.pause_note && (
        <>
          <dt>pause note</dt>
          <dd>{s.pause_note}</dd>
        </>
      )}
      {s.owner && (
        <>
          <dt>owner</dt>
          <dd>{s.owner}</dd>
        </>
      )}
      {s.description && (
        <>
          <dt>description</dt>
          <dd>{s.description}</dd>
        </>
      )}
    </dl>
  );
}

function NextTen(props: { cron: string; zone: string; active: boolean }): JSX.Element {
  const p = usePoll(() => api<Preview>('POST', '/v1/cron/preview', { cron: props.cron, timezone: props.zone, count: 10 }), 0, [props.cron, props.zone]);
  const viewer = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (p.error) return <ErrorNotice error={p.error} />;
  if (!p.data) return <Loading />;
  return (
    <>
      {!props.active && <p class="muted">Paused or disabled: these are the times it would fire.</p>}
      <table class="fires">
        <thead>
          <tr>
            <th>in {props.zone}</th>
            {viewer !== props.zone && <th>yours ({viewer})</th>}
          </tr>
        </thead>
        <tbody>
          {(p.data.fires ?? []).map((f) => {
            const ms = parseTime(f) ?? 0;
            return (
              <tr key={f}>
                <td>{absolute(ms, props.zone)}</td>
                {viewer !== props.zone && <td class="muted">{absolute(ms)}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

/* The members PUT /v1/cron/{key} takes, copied from the schedule so that a
 * save changes only what the form changed. */
const SPEC = ['cron', 'timezone', 'enabled', 'owner', 'description', 'overlap', 'misfire', 'catchup_window_ms', 'catchup_max', 'dst_gap', 'dst_fold', 'history_max', 'job'];
const JOB = ['queue', 'type', 'payload', 'priority', 'max_attempts', 'lease_ms', 'timeout_ms', 'backoff', 'group'];

function EditSchedule(props: { s: Schedule; path: string; onSaved: () => void }): JSX.Element {
  const [cron, setCron] = useState(props.s.cron);
  const [tz, setTz] = useState(props.s.timezone);
  const [enabled, setEnabled] = useState(props.s.enabled);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<unknown>(null);
  // The preview follows the typing (a quarter second after the last key).
  useEffect(() => {
    let live = true;
    const t = window.setTimeout(() => {
      api<Preview>('POST', '/v1/cron/preview', { cron, timezone: tz, count: 10, key: props.s.key })
        .then((p) => live && setPreview(p))
        .catch((e) => live && setPreview({ valid: false, error: { code: e instanceof ApiError ? e.code : 'error', message: String(e instanceof Error ? e.message : e) } }));
    }, 250);
    return () => {
      live = false;
      window.clearTimeout(t);
    };
  }, [cron, tz]);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const src = props.s as unknown as Record<string, unknown>;
    const body: Record<string, unknown> = {};
    for (const k of SPEC) if (src[k] !== undefined) body[k] = src[k];
    const job: Record<string, unknown> = {};
    for (const k of JOB) {
      const v = (props.s.job as unknown as Record<string, unknown>)[k];
      if (v !== undefined && v !== null) job[k] = v;
    }
    Object.assign(body, { cron, timezone: tz, enabled, job });
    try {
      await api('PUT', props.path, body);
      props.onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="panel" onSubmit={save} aria-label="Edit schedule">
      <div class="filters">
        <label>
          expression
          <input name="cron" class="mono" value={cron} onInput={(e) => setCron((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          time zone
          <input name="timezone" value={tz} onInput={(e) => setTz((e.target as HTMLInputElement).value)} />
        </label>
        <label class="check">
          <input type="checkbox" name="enabled" checked={enabled} onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)} /> enabled
        </label>
      </div>
      <div aria-live="polite" class="preview">
        {!preview ? (
          <span class="muted">…</span>
        ) : !preview.valid ? (
          <span class="error">{preview.error?.message ?? 'not a valid expression'}</span>
        ) : (
          <>
            <p>
              <strong>{preview.description}</strong>. The next 10 fires:
            </p>
            <ol class="fires">
              {(preview.fires ?? []).map((f) => (
                <li key={f}>
                  {absolute(parseTime(f) ?? 0, tz)} <span class="muted">· yours {absolute(parseTime(f) ?? 0)}</span>
                </li>
              ))}
            </ol>
          </>
        )}
      </div>
      <ErrorNotice error={error} />
      <div class="actions">
        <button class="primary" type="submit" disabled={preview !== null && !preview.valid}>
          Save schedule
        </button>
      </div>
    </form>
  );
}
