// Cron.tsx: /ui/cron — every schedule with its expression, its English
// description (POST /v1/cron/preview, once per expression and zone), zone,
// next fire in its zone and the viewer's, last run and its status.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, enc, qs } from '../api';
import type { Preview, Schedule } from '../api';
import { Badge, Empty, ErrorNotice, Loading, Time, usePoll } from '../components';
import { absolute, parseTime } from '../format';
import { Link } from '../router';

const described = new Map<string, string>();

export function useDescription(cron: string, timezone: string): string | null {
  const k = cron + '\u0000' + timezone;
  const [d, setD] = useState<string | null>(described.get(k) ?? null);
  useEffect(() => {
    if (described.has(k)) {
      setD(described.get(k) ?? null);
      return;
    }
    let live = true;
    api<Preview>('POST', '/v1/cron/preview', { cron, timezone, count: 1 })
      .then((p) => {
        const text = p.valid ? (p.description ?? '') : 'invalid: ' + (p.error?.message ?? '');
        described.set(k, text);
        if (live) setD(text);
      })
      .catch(() => live && setD(null));
    return () => {
      live = false;
    };
  }, [k]);
  return d;
}

export function NextFire(props: { at: string | null; zone: string }): JSX.Element {
  const ms = parseTime(props.at);
  if (ms === null) return <span class="muted">not scheduled (paused or disabled)</span>;
  const viewer = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return (
    <span>
      <Time at={props.at} />
      <br />
      <span class="small">
        {absolute(ms, props.zone)} <span class="muted">({props.zone})</span>
        {viewer !== props.zone && (
          <>
            <br />
            {absolute(ms)} <span class="muted">(yours, {viewer})</span>
          </>
        )}
      </span>
    </span>
  );
}

function Row(props: { s: Schedule }): JSX.Element {
  const s = props.s;
  const d = useDescription(s.cron, s.timezone);
  return (
    <tr>
      <td>
        <Link to={'/cron/' + enc(s.key)}>{s.key}</Link>
      </td>
      <td>
        <code>{s.cron}</code>
        <div class="small muted">{d ?? ''}</div>
      </td>
      <td class="opt">{s.timezone}</td>
      <td>
        <NextFire at={s.next_fire_at} zone={s.timezone} />
      </td>
      <td class="opt">{s.last_run ? <Time at={s.last_run.fired_at} /> : <span class="muted">never</span>}</td>
      <td>
        <Badge v={s.last_status} />
      </td>
      <td>{!s.enabled ? <Badge v="cancelled" /> : s.paused ? <Badge v="paused" /> : <Badge v="enabled" />}</td>
    </tr>
  );
}

export function CronList(): JSX.Element {
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1];
  const page = usePoll(() => api<{ schedules: Schedule[]; next: string | null }>('GET', '/v1/cron' + qs({ limit: 100, after })), 3000, [after]);
  return (
    <div>
      <h1>Cron schedules</h1>
      <ErrorNotice error={page.error} />
      {!page.data ? (
        !page.error && <Loading />
      ) : page.data.schedules.length === 0 ? (
        <Empty>
          No schedules yet. Add one with <code>baton cron put KEY --cron "*/5 * * * *" --queue Q --type T</code>, <code>PUT /v1/cron/{'{key}'}</code>, or a
          registry file (<code>batond --cron-file</code>).
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>key</th>
                <th>expression</th>
                <th class="opt">zone</th>
                <th>next fire</th>
                <th class="opt">last run</th>
                <th>last status</th>
                <th>state</th>
              </tr>
            </thead>
            <tbody>
              {page.data.schedules.map((s) => (
                <Row key={s.key} s={s} />
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
