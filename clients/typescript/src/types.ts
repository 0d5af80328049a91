/*
 * types.ts: the typed objects of baton's API v1 in the client's camelCase.
 *
 * Each interface mirrors a schema of docs/openapi.json member by member, with
 * the names mapped by wire.ts (`run_at` -> `runAt`). Times are the API's RFC
 * 3339 strings; inputs that take a time also accept a Date. Ids are strings
 * in answers; inputs that name a job take a string or a number.
 */

export type JobId = string;
export type JobIdInput = string | number;
export type Time = string;
export type TimeInput = string | Date;

export type Priority = "critical" | "high" | "normal" | "low";
export type JobState =
  | "pending"
  | "scheduled"
  | "queued"
  | "running"
  | "retrying"
  | "completed"
  | "dead"
  | "cancelled";
export type AttemptOutcome = "completed" | "failed" | "lease_expired" | "timeout" | "cancelled";
export type Scope = "jobs:write" | "jobs:read" | "work" | "cron:read" | "cron:write" | "cron:run" | "admin" | "metrics" | "events:read";

export const TERMINAL_STATES: readonly JobState[] = ["completed", "dead", "cancelled"];

export interface Backoff {
  type: "exponential" | "fixed" | "immediate" | "none";
  baseMs?: number;
  maxMs?: number;
}

/** A heartbeat's progress: any members; `percent` 0-100, `step` opens a step of the step log. */
export interface Progress {
  percent?: number;
  step?: string;
  message?: string;
  [member: string]: unknown;
}

export interface Step {
  step: string;
  attempt?: number;
  startedAt: Time;
  finishedAt: Time | null;
}

export interface Attempt {
  attempt: number;
  worker: string | null;
  startedAt: Time | null;
  finishedAt: Time | null;
  outcome: AttemptOutcome | null;
  error: string | null;
}

export interface TimerRef {
  key: string;
  version: number;
  fireAt: Time;
}

export interface CronRef {
  key: string;
  run: string;
}

/** The job object (GET /v1/jobs/{id}): every member, null where it has no value. */
export interface Job<P = unknown, R = unknown> {
  id: JobId;
  queue: string;
  type: string;
  payload: P;
  priority: Priority;
  state: JobState;
  runAt: Time;
  attempt: number;
  maxAttempts: number;
  backoff: Backoff;
  leaseMs: number;
  timeoutMs: number | null;
  idempotencyKey: string | null;
  key: string | null;
  uniqueWhile: "pending" | "active";
  group: string | null;
  version: number;
  requestId: string | null;
  executionId: string | null;
  traceparent: string | null;
  createdAt: Time;
  startedAt: Time | null;
  finishedAt: Time | null;
  result: R | null;
  lastError: string | null;
  progress: Progress | null;
  steps: Step[];
  attempts: Attempt[];
  worker: string | null;
  leaseUntil: Time | null;
  cancelRequested: boolean;
  cancelReason: "cancelled" | "parent_failed" | "superseded_by_key" | null;
  timer: TimerRef | null;
  cron: CronRef | null;
  dependsOn: JobId[];
  onParentFailure: "cancel" | "run";
  flowId: string | null;
  ref: string | null;
}

/** The answer to an enqueue: the job, with `duplicate` / `replaced` when it was not new. */
export type EnqueuedJob<P = unknown, R = unknown> = Job<P, R> & { duplicate?: boolean; replaced?: boolean };

/** The answer to an enqueue with `minimal: true` (Prefer: return=minimal). */
export interface MinimalJob {
  id: JobId;
  state: JobState;
  version: number;
  duplicate?: boolean;
  replaced?: boolean;
}

/** A claimed job: the job object plus its lease token and, with parents, their results. */
export interface ClaimedJob<P = unknown, R = unknown> extends Job<P, R> {
  lease: string;
  parents?: { id: JobId; result: unknown }[];
}

/** The members of an enqueue (POST /v1/jobs), one job or each job of a batch. */
export interface EnqueueJob<P = unknown> {
  queue: string;
  type: string;
  payload?: P;
  priority?: Priority;
  delayMs?: number;
  runAt?: TimeInput;
  maxAttempts?: number;
  backoff?: Backoff;
  leaseMs?: number;
  timeoutMs?: number;
  idempotencyKey?: string;
  key?: string;
  onKey?: "keep" | "replace";
  uniqueWhile?: "pending" | "active";
  requestId?: string;
  executionId?: string;
  traceparent?: string;
  dependsOn?: JobIdInput[];
  onParentFailure?: "cancel" | "run";
  group?: string;
}

/** Filters of GET /v1/jobs (and of a bulk action's `filter`). */
export interface JobFilter {
  queue?: string;
  state?: JobState | JobState[];
  type?: string;
  group?: string;
  key?: string;
  idempotencyKey?: string;
  requestId?: string;
  executionId?: string;
  worker?: string;
  createdAfter?: TimeInput;
  createdBefore?: TimeInput;
  finishedAfter?: TimeInput;
  finishedBefore?: TimeInput;
  order?: "asc" | "desc";
}

export interface PageOptions {
  /** Page size asked of the server (1 ... --list-max). */
  limit?: number;
  /** Cursor to start after (a previous page's `next`). */
  after?: string;
}

/** One page of a list: its items and the cursor of the next page (null on the last). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface JobPatch<P = unknown> {
  priority?: Priority | null;
  runAt?: TimeInput | null;
  payload?: P | null;
}

export type BulkAction = "retry" | "cancel" | "promote" | "purge";

export interface BulkRequest {
  action: BulkAction;
  filter: JobFilter;
  limit?: number;
  after?: string | number;
}

export interface BulkAnswer {
  matched: number;
  changed: number;
  next: string | null;
}

export interface WorkerInfo {
  host?: string;
  pid?: number;
  version?: string;
  labels?: Record<string, string>;
}

export interface ClaimRequest {
  worker: string;
  max?: number;
  waitMs?: number;
  leaseMs?: number;
  info?: WorkerInfo | null;
}

export interface HeartbeatRequest {
  lease: string;
  extendMs?: number;
  progress?: Progress | number;
}

export interface HeartbeatAnswer {
  leaseUntil: Time;
  cancelRequested: boolean;
}

export interface FailOptions {
  error?: string;
  retryable?: boolean;
  retryInMs?: number;
}

/** The answer to complete and fail: the job, with `repeat` when the same settle was repeated. */
export interface SettleAnswer<P = unknown, R = unknown> {
  job: Job<P, R>;
  repeat?: boolean;
}

export type SettleItem =
  | { id: JobIdInput; lease: string; outcome: "complete"; result?: unknown }
  | { id: JobIdInput; lease: string; outcome: "fail"; error?: string; retryable?: boolean; retryInMs?: number };

export interface SettleItemAnswer {
  id: JobId;
  ok: boolean;
  repeat?: boolean;
  error?: { code: string; message: string; field?: string | null };
}

/** A worker of the registry (GET /v1/workers/{id}). */
export interface WorkerRecord {
  id: string;
  info: WorkerInfo | null;
  queues: string[];
  firstSeen: Time;
  lastSeen: Time;
  inFlight: JobId[];
  inFlightTruncated: boolean;
  completed: number;
  failed: number;
  health: "healthy" | "stale" | "lost";
  leasePeriodMs: number;
}

export interface RateSetting {
  max: number;
  perMs: number;
}

export interface QueueCounts {
  pending: number;
  scheduled: number;
  queued: number;
  running: number;
  retrying: number;
  completed: number;
  dead: number;
  cancelled: number;
}

export interface QueueRetention {
  completedMs?: number | null;
  deadMs?: number | null;
  cancelledMs?: number | null;
}

export interface Queue {
  name: string;
  paused: boolean;
  counts: QueueCounts;
  oldestReadyAgeMs: number | null;
  createdAt: Time;
  updatedAt: Time;
  concurrency: number | null;
  rate: RateSetting | null;
  maxDepth: number | null;
  groupConcurrency: number | null;
  groupRate: RateSetting | null;
  defaults: { maxAttempts: number | null; backoff: Backoff | null; leaseMs: number | null; timeoutMs: number | null };
  retention: { completedMs: number | null; deadMs: number | null; cancelledMs: number | null };
  running: number;
  depth: number;
  settingsUpdatedAt: Time | null;
  /** Whether the queue's jobs write job.* events to the event log (GET /v1/events). */
  jobEvents: boolean;
}

/** PATCH /v1/queues/{queue}: any of these; null removes a limit or a default. */
export interface QueuePatch {
  paused?: boolean;
  concurrency?: number | null;
  rate?: RateSetting | null;
  maxDepth?: number | null;
  groupConcurrency?: number | null;
  groupRate?: RateSetting | null;
  maxAttempts?: number | null;
  backoff?: Backoff | null;
  leaseMs?: number | null;
  retention?: QueueRetention | null;
  jobEvents?: boolean;
  timeoutMs?: number | null;
}

export interface DrainAnswer {
  cancelled: number;
  more: boolean;
}

export interface QueueDeleteAnswer {
  deleted: boolean;
  purged: number;
}

export type ReplayRequest = { ids: JobIdInput[] } | { all: true };

export interface Health {
  status: "ok";
}

export interface Ready {
  status: "ready" | "stopping";
  store: "sqlite" | "postgres";
  node: string;
  role: "starting" | "leader" | "follower" | "disconnected" | "stopped";
  leader: string | null;
  epoch: number;
}

export interface RateLimit {
  max: number;
  perMs: number;
}

export interface KeyCreate {
  name: string;
  tenant?: string;
  scopes: Scope[];
  expiresAt?: TimeInput;
  rateLimit?: RateLimit;
}

/** An API key as listed (never with its secret). */
export interface ApiKey {
  id: string;
  name: string;
  tenant: string;
  scopes: Scope[];
  state: "active" | "revoked" | "expired";
  createdAt: Time;
  expiresAt: Time | null;
  revokedAt: Time | null;
  rotatedAt: Time | null;
  previousValidUntil: Time | null;
  rateLimit: RateLimit | null;
  createdBy: string | null;
}

/** A key's creation or rotation: the key object and, beside it, the secret (shown only here). */
export interface KeyWithSecret {
  key: ApiKey;
  secret: string;
}

export interface ListKeysOptions extends PageOptions {
  /** Another tenant, or "*" for every tenant (the root admin only). */
  tenant?: string;
}

export interface AuditEntry {
  id: string;
  at: Time;
  keyId: string | null;
  tenant: string;
  action: string;
  target: string | null;
  requestId: string | null;
  status: number;
  code: string | null;
  /** What changed, as the server recorded it (kept verbatim, snake_case members). */
  detail: Record<string, unknown> | null;
  count: number;
}

export interface ListAuditOptions extends PageOptions {
  tenant?: string;
  action?: string;
  keyId?: string;
}

export interface CronJobTemplate<P = unknown> {
  queue: string;
  type: string;
  payload?: P;
  priority?: Priority | null;
  maxAttempts?: number;
  leaseMs?: number;
  timeoutMs?: number | null;
  group?: string | null;
  backoff?: Backoff;
}

export type Overlap = "skip" | "allow" | "buffer_one" | "replace";
export type Misfire = "fire_once" | "skip" | "fire_all";

/** The definition of a schedule (PUT /v1/cron/{key}). */
export interface ScheduleInput<P = unknown> {
  cron: string;
  job: CronJobTemplate<P>;
  timezone?: string;
  enabled?: boolean;
  owner?: string;
  description?: string;
  overlap?: Overlap;
  misfire?: Misfire;
  catchupWindowMs?: number;
  catchupMax?: number;
  dstGap?: "shift" | "skip";
  dstFold?: "first" | "last" | "both";
  historyMax?: number;
}

export interface CronRun {
  id: string;
  key: string;
  scheduledAt: Time | null;
  firedAt: Time | null;
  trigger: "schedule" | "catchup" | "manual";
  jobId: JobId | null;
  status: JobState | "buffered" | "skipped";
  reason: string | null;
  requestedBy: string | null;
  payload: Record<string, unknown> | null;
  startedAt: Time | null;
  finishedAt: Time | null;
  durationMs: number | null;
  summary: string | null;
  error: string | null;
}

export interface Schedule<P = unknown> {
  key: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  owner: string | null;
  description: string | null;
  job: Required<CronJobTemplate<P>>;
  overlap: Overlap;
  misfire: Misfire;
  catchupWindowMs: number;
  catchupMax: number;
  dstGap: "shift" | "skip";
  dstFold: "first" | "last" | "both";
  historyMax: number;
  paused: boolean;
  pauseNote: string | null;
  nextFireAt: Time | null;
  version: number;
  createdAt: Time;
  updatedAt: Time;
  lastRun: CronRun | null;
  lastStatus: string | null;
}

export interface SchedulePutAnswer<P = unknown> {
  schedule: Schedule<P>;
  created: boolean;
}

export interface CronRegistry {
  schedules: (ScheduleInput & { key: string })[];
  prune?: boolean;
}

export interface CronApplyAnswer {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

export interface CronPreviewRequest {
  cron: string;
  timezone?: string;
  count?: number;
  from?: TimeInput;
  dstGap?: "shift" | "skip";
  dstFold?: "first" | "last" | "both";
  key?: string;
}

export interface CronPreview {
  valid: boolean;
  error: { code: string; message: string; field: string | null } | null;
  description: string | null;
  fires: Time[];
  minIntervalMs: number | null;
  floorMs: number;
  belowFloor: boolean;
  hSeed?: "none" | "key";
}

export interface CronRunRequest<P = Record<string, unknown>> {
  force?: boolean;
  payload?: P | null;
}

export interface Scheduler {
  node: string;
  role: "starting" | "leader" | "follower" | "disconnected" | "stopped";
  leader: string | null;
  epoch: number;
  leaseUntil: Time | null;
  heartbeatAt: Time | null;
  heartbeatAgeMs: number | null;
  lagMs: number | null;
  lastTickAt: Time | null;
  tickLagMs: number;
  nextDeadlineAt: Time | null;
  nextDueAt: Time | null;
  tickRunning: boolean;
  fenced: number;
  notifications: "listening" | "reconnecting" | "none";
  schedules: number;
  due: number;
  skipped: { overlap: number; misfire: number };
}

/** GET /v1/stats: options (all optional; the server's defaults are one queue-less hour of minutes). */
export interface StatsOptions {
  /** One queue; omitted: every queue of the tenant, summed. */
  queue?: string;
  /** A whole number of steps, at most 1,440 of them (default 3,600,000). */
  windowMs?: number;
  /** A whole number of minutes, 60,000 ... 86,400,000 (default 60,000). */
  stepMs?: number;
}

/** One step of a stats series: counters of the step, gauges at their largest sample. */
export interface StatsPoint {
  at: Time;
  enqueued: number;
  started: number;
  completed: number;
  /** retried + dead. */
  failed: number;
  retried: number;
  dead: number;
  cancelled: number;
  /** Leases that ran out (also counted as retried or dead). */
  expired: number;
  /** Jobs not yet ended; null where no sample was taken in the step. */
  depth: number | null;
  running: number | null;
}

/** GET /v1/stats. */
export interface Stats {
  queue: string | null;
  windowMs: number;
  stepMs: number;
  from: Time;
  to: Time;
  sampleMs: number;
  points: StatsPoint[];
}

/** PUT /v1/timers/{key}: exactly one of fireAt and delayMs. */
export interface TimerInput<P = unknown> {
  queue: string;
  type: string;
  payload?: P;
  fireAt?: TimeInput;
  delayMs?: number;
  /** Compare-and-set: the timer must be at this version (0: create only). */
  ifVersion?: number;
  /** Only while the timer's current version is still scheduled: a fired or cancelled one is a 409 invalid_state BatonError. */
  ifScheduled?: boolean;
  priority?: Priority;
  maxAttempts?: number;
  backoff?: Backoff;
  leaseMs?: number;
  group?: string;
}

export interface Timer<P = unknown> {
  key: string;
  version: number;
  state: "scheduled" | "fired" | "cancelled";
  fireAt: Time;
  queue: string;
  type: string;
  payload: P;
  priority: Priority;
  maxAttempts: number;
  backoff: Backoff;
  leaseMs: number;
  group: string | null;
  jobId: JobId | null;
  firedAt: Time | null;
  deferred: { reason: string; count: number; retryAt: Time } | null;
  requestId: string | null;
  createdAt: Time;
  updatedAt: Time;
}

export interface ListTimersOptions extends PageOptions {
  prefix?: string;
}

/** A job of a flow: an enqueue with a `ref`; `dependsOn` names refs of the flow or job ids. */
export interface FlowJobInput<P = unknown> extends Omit<EnqueueJob<P>, "dependsOn"> {
  ref: string;
  dependsOn?: (string | number)[];
}

export interface Flow {
  id: string;
  state: "running" | "completed" | "failed";
  createdAt: Time;
  jobs: Job[];
  next: string | null;
}
