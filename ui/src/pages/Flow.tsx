// Flow.tsx: /ui/flows/{id} — a flow's DAG (GET /v1/flows/{id}) drawn with
// each job's state: columns by depth (a job one column right of its deepest
// parent in the flow), an arrow per dependency; the table below lists the
// same jobs with links. Pages of the flow's jobs follow its cursor.
import type { JSX } from 'preact';
import { api, ApiError, enc, qs } from '../api';
import type { Job } from '../api';
import { Badge, ErrorNotice, Loading, usePoll } from '../components';
import { Link, navigate } from '../router';

interface Flow {
  id: string;
  state: string;
  created_at: string;
  jobs: Job[];
  next: string | null;
}

const W = 170;
const H = 46;
const GX = 60;
const GY = 18;
const MAX_JOBS = 5000;

/* Every job of the flow, page after page (bounded). */
async function loadFlow(id: string): Promise<Flow> {
  const first = (await api<{ flow: Flow }>('GET', '/v1/flows/' + enc(id))).flow;
  let next = first.next;
  const jobs = [...first.jobs];
  while (next && jobs.length < MAX_JOBS) {
    const page = (await api<{ flow: Flow }>('GET', '/v1/flows/' + enc(id) + qs({ after: next }))).flow;
    jobs.push(...page.jobs);
    next = page.next;
  }
  return { ...first, jobs, next };
}

function layout(jobs: Job[]) {
  const depth = new Map<string, number>();
  // Parents come before their children in id order, so one pass does.
  const sorted = [...jobs].sort((a, b) => Number(a.id) - Number(b.id));
  for (const j of sorted) {
    let d = 0;
    for (const p of j.depends_on) if (depth.has(p)) d = Math.max(d, (depth.get(p) ?? 0) + 1);
    depth.set(j.id, d);
  }
  const rows = new Map<number, number>();
  const pos = new Map<string, { x: number; y: number }>();
  for (const j of sorted) {
    const d = depth.get(j.id) ?? 0;
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    pos.set(j.id, { x: 10 + d * (W + GX), y: 10 + r * (H + GY) });
  }
  const cols = Math.max(0, ...depth.values()) + 1;
  const maxRows = Math.max(1, ...rows.values());
  return { pos, width: 20 + cols * W + (cols - 1) * GX, height: 20 + maxRows * H + (maxRows - 1) * GY };
}

export function FlowPage(props: { id: string }): JSX.Element {
  const f = usePoll(() => loadFlow(props.id), 2000, [props.id]);
  if (f.error instanceof ApiError && f.error.status === 404)
    return (
      <div>
        <h1>Flow {props.id}</h1>
        <p class="empty">No flow {props.id} in this tenant. A flow is made with POST /v1/flows; its jobs link here.</p>
      </div>
    );
  const flow = f.data;
  const g = flow ? layout(flow.jobs) : null;
  return (
    <div>
      <h1>
        Flow {props.id} {flow && <Badge v={flow.state === 'failed' ? 'dead' : flow.state} />}
      </h1>
      <ErrorNotice error={f.error} />
      {!flow || !g ? (
        !f.error && <Loading />
      ) : (
        <>
          <div class="dag-wrap">
            <svg class="dag" width={g.width} height={g.height} viewBox={`0 0 ${g.width} ${g.height}`} role="img" aria-label={`The DAG of flow ${props.id}: ${flow.jobs.length} jobs`}>
              <defs>
                <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
                  <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
                </marker>
              </defs>
              {flow.jobs.flatMap((j) =>
                j.depends_on
                  .filter((p) => g.pos.has(p))
                  .map((p) => {
                    const a = g.pos.get(p)!;
                    const b = g.pos.get(j.id)!;
                    const x1 = a.x + W;
                    const y1 = a.y + H / 2;
                    const x2 = b.x;
                    const y2 = b.y + H / 2;
                    const mx = (x1 + x2) / 2;
                    return <path key={p + '>' + j.id} class="edge" d={`M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`} marker-end="url(#arrow)" />;
                  }),
              )}
              {flow.jobs.map((j) => {
                const p = g.pos.get(j.id)!;
                return (
                  <g
                    key={j.id}
                    class={'node ' + j.state}
                    transform={`translate(${p.x},${p.y})`}
                    tabIndex={0}
                    role="link"
                    aria-label={`job ${j.id} ${j.ref ?? ''}: ${j.state}`}
                    onClick={() => navigate('/jobs/' + enc(j.id))}
                    onKeyDown={(e) => {
                      if (e.key === 'Enter') navigate('/jobs/' + enc(j.id));
                    }}
                  >
                    <rect width={W} height={H} rx="6" />
                    <text x="10" y="19" class="ref">
                      {(j.ref ?? j.id).slice(0, 20)}
                    </text>
                    <text x="10" y="36" class="state">
                      {j.state} · {j.type.slice(0, 14)}
                    </text>
                  </g>
                );
              })}
            </svg>
          </div>
          {flow.next && <p class="muted">The flow has more than {flow.jobs.length} jobs; the first {flow.jobs.length} are drawn.</p>}
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>ref</th>
                  <th>job</th>
                  <th>state</th>
                  <th>depends on</th>
                </tr>
              </thead>
              <tbody>
                {flow.jobs.map((j) => (
                  <tr key={j.id}>
                    <td class="mono">{j.ref}</td>
                    <td class="mono">
                      <Link to={'/jobs/' + enc(j.id)}>{j.id}</Link> {j.queue}/{j.type}
                    </td>
                    <td>
                      <Badge v={j.state} />
                    </td>
                    <td class="mono">
                      {j.depends_on.length === 0
                        ? '—'
                        : j.depends_on.map((p, i) => (
                            <span key={p}>
                              {i > 0 && ', '}
                              <Link to={'/jobs/' + enc(p)}>{p}</Link>
                            </span>
                          ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}
