// chart.tsx: the series of GET /v1/stats drawn as small SVG charts: jobs
// completed and failed per step (bars), and the backlog (the largest depth
// sample of each step, a line; a gap where no sample was taken). Drawn from
// the server's numbers only, polled every 5 s.
import type { JSX } from 'preact';
import { api, qs } from './api';
import { ErrorNotice, Loading, usePoll } from './components';
import { num } from './format';

interface Point {
  at: string;
  enqueued: number;
  started: number;
  completed: number;
  failed: number;
  dead: number;
  depth: number | null;
  running: number | null;
}
interface Stats {
  queue: string | null;
  window_ms: number;
  step_ms: number;
  points: Point[];
}

const W = 600;
const H = 120;
const PAD = 4;

function Bars(props: { points: Point[]; label: string }): JSX.Element {
  const n = props.points.length || 1;
  const max = Math.max(1, ...props.points.map((p) => p.completed + p.failed));
  const bw = (W - 2 * PAD) / n;
  const y = (v: number) => H - PAD - (v / max) * (H - 2 * PAD);
  const total = props.points.reduce((a, p) => ({ c: a.c + p.completed, f: a.f + p.failed }), { c: 0, f: 0 });
  return (
    <figure class="chart">
      <figcaption>
        {props.label}: <span class="ok">{num(total.c)} completed</span>, <span class="error">{num(total.f)} failed</span>
        <span class="muted"> (peak {num(max)} per step)</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${props.label}: ${total.c} completed and ${total.f} failed`}>
        <line class="axis" x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} />
        {props.points.map((p, i) => {
          const x = PAD + i * bw;
          const yc = y(p.completed);
          const yf = y(p.completed + p.failed);
          return (
            <g key={p.at}>
              {p.completed > 0 && <rect class="bar completed" x={x + 0.5} y={yc} width={Math.max(1, bw - 1)} height={H - PAD - yc} />}
              {p.failed > 0 && <rect class="bar failed" x={x + 0.5} y={yf} width={Math.max(1, bw - 1)} height={yc - yf} />}
            </g>
          );
        })}
      </svg>
      <Axis />
    </figure>
  );
}

function Axis(): JSX.Element {
  return (
    <div class="chart-axis muted small">
      <span>60 min ago</span>
      <span>now</span>
    </div>
  );
}

function Backlog(props: { points: Point[] }): JSX.Element {
  const n = props.points.length || 1;
  const vals = props.points.map((p) => p.depth);
  const peak = Math.max(0, ...vals.map((v) => v ?? 0));
  const max = Math.max(1, peak);
  const step = (W - 2 * PAD) / Math.max(1, n - 1);
  const y = (v: number) => H - PAD - (v / max) * (H - 2 * PAD);
  let d = '';
  let pen = false;
  vals.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${(PAD + i * step).toFixed(1)},${y(v).toFixed(1)} `;
    pen = true;
  });
  const lastIdx = vals.map((v) => v !== null).lastIndexOf(true);
  const last = lastIdx >= 0 ? vals[lastIdx] : null;
  return (
    <figure class="chart">
      <figcaption>
        backlog (jobs not ended) at the last sample:{' '}
        {last === null ? <span class="muted">none taken yet</span> : num(last)}
        <span class="muted"> (peak {num(peak)})</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`backlog, now ${last ?? 'unknown'}, peak ${max}`}>
        <line class="axis" x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} />
        <path class="line depth" d={d.trim()} />
        {last !== null && <circle class="dot depth" cx={PAD + lastIdx * step} cy={y(last)} r="3" />}
      </svg>
      <Axis />
    </figure>
  );
}

/* The last hour of queue (undefined: every queue of the tenant), a step a
 * minute. */
export function StatsCharts(props: { queue?: string }): JSX.Element {
  const s = usePoll(
    () => api<{ stats: Stats }>('GET', '/v1/stats' + qs({ queue: props.queue, window_ms: 3600000, step_ms: 60000 })).then((r) => r.stats),
    5000,
    [props.queue],
  );
  if (s.error) return <ErrorNotice error={s.error} />;
  if (!s.data) return <Loading />;
  return (
    <div class="charts">
      <Bars points={s.data.points} label="last hour, per minute" />
      <Backlog points={s.data.points} />
    </div>
  );
}
