// api.ts: the dashboard's only way to the server: the public HTTP API
// (docs/api.md) on this origin, authenticated by the session cookie that
// POST /v1/sessions set. Every request that is not GET or HEAD carries the
// sign-in's CSRF token (X-CSRF-Token), kept in localStorage so that other
// tabs and reloads of this origin have it; the cookie itself is HttpOnly and
// never seen here.

export interface ApiErrorBody {
  code: string;
  message: string;
  field?: string;
  job_id?: string;
}

export class ApiError extends Error {
  status: number;
  code: string;
  field: string | undefined;
  jobId: string | undefined;
  constructor(status: number, body: ApiErrorBody | undefined, fallback: string) {
    super(body?.message ?? fallback);
    this.status = status;
    this.code = body?.code ?? 'http_' + status;
    this.field = body?.field;
    this.jobId = body?.job_id;
  }
}

const CSRF_KEY = 'baton.csrf';

export function csrfToken(): string | null {
  try {
    return localStorage.getItem(CSRF_KEY);
  } catch {
    return null;
  }
}

export function setCsrfToken(t: string | null): void {
  try {
    if (t) localStorage.setItem(CSRF_KEY, t);
    else localStorage.removeItem(CSRF_KEY);
  } catch {
    /* storage disabled: changes will be refused with csrf_required */
  }
}

// Called on every 401: the session is gone (expired, signed out, key revoked).
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrfToken();
    if (t) headers['X-CSRF-Token'] = t;
  }
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, undefined, 'the server did not answer (' + String(e) + ')');
  }
  if (res.status === 204) return undefined as T;
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, (json as { error?: ApiErrorBody } | undefined)?.error, res.statusText);
    if (res.status === 401 && path !== '/v1/sessions') onUnauthenticated();
    throw err;
  }
  return json as T;
}

export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? '?' + s : '';
}

export const enc = encodeURIComponent;

// ---- shapes (docs/api.md) ----

export interface Session {
  expires_at: string;
  key_id: string;
  scopes: string[];
  tenant: string;
}

export const STATES = ['pending', 'scheduled', 'queued', 'running', 'retrying', 'completed', 'dead', 'cancelled'] as const;
export type JobState = (typeof STATES)[number];

export interface Rate {
  max: number;
  per_ms: number;
}

export interface Queue {
  name: string;
  paused: boolean;
  counts: Record<JobState, number>;
  oldest_ready_age_ms: number | null;
  created_at: string;
  updated_at: string;
  concurrency: number | null;
  rate: Rate | null;
  max_depth: number | null;
  group_concurrency: number | null;
  group_rate: Rate | null;
  defaults: { max_attempts: number | null; backoff: unknown; lease_ms: number | null; timeout_ms: number | null };
  retention: { completed_ms: number | null; dead_ms: number | null; cancelled_ms: number | null } | null;
  running: number;
  depth: number;
  settings_updated_at: string | null;
}

export interface Attempt {
  attempt: number;
  worker: string | null;
  started_at: string | null;
  finished_at: string | null;
  outcome: string | null;
  error: string | null;
}

export interface Job {
  id: string;
  queue: string;
  type: string;
  payload: unknown;
  priority: string;
  state: JobState;
  run_at: string | null;
  attempt: number;
  max_attempts: number;
  lease_ms: number;
  timeout_ms: number | null;
  idempotency_key: string | null;
  key: string | null;
  group: string | null;
  version: number;
  request_id: string | null;
  execution_id: string | null;
  traceparent: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: unknown;
  last_error: string | null;
  progress: { percent?: number; step?: string; message?: string } | null;
  steps: { step: string; attempt: number; started_at: string | null; finished_at: string | null }[];
  attempts: Attempt[];
  worker: string | null;
  lease_until: string | null;
  cancel_requested: boolean;
  cancel_reason: string | null;
  timer: { key: string; version: number; fire_at: string } | null;
  cron: { key: string; run: string } | null;
  depends_on: string[];
  on_parent_failure: string;
  flow_id: string | null;
  ref: string | null;
}

export interface CronRun {
  id: string;
  key: string;
  scheduled_at: string | null;
  fired_at: string | null;
  trigger: string;
  job_id: string | null;
  status: string;
  reason: string | null;
  requested_by: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  summary: string | null;
  error: string | null;
}

export interface Schedule {
  key: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  owner: string | null;
  description: string | null;
  job: { queue: string; type: string; payload: unknown; priority: string | null };
  overlap: string;
  misfire: string;
  paused: boolean;
  pause_note: string | null;
  next_fire_at: string | null;
  last_run: CronRun | null;
  last_status: string | null;
  updated_at: string;
}

export interface Preview {
  valid: boolean;
  error: ApiErrorBody | null;
  description?: string;
  fires?: string[];
}

export interface Worker {
  id: string;
  queues: string[];
  last_seen: string;
  in_flight: string[];
  completed: number;
  failed: number;
  health: string;
}

export interface Scheduler {
  node: string;
  role: string;
  leader: string | null;
  heartbeat_age_ms: number | null;
  lag_ms: number | null;
  schedules: number;
  due: number;
  next_due_at: string | null;
}
