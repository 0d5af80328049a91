/*
 * errors.ts: the error classes of baton-client.
 *
 * BatonError is what every call rejects with: a server answer that is not 2xx
 * (status, code, message, field from the body's {"error": {...}}, retryAfterMs
 * from the Retry-After header), or a transport failure (status 0, code
 * "connection_error" or "timeout"), so a caller has one type to inspect.
 * UnrecoverableError and RetryError are thrown by worker handlers to choose how
 * a failed attempt is settled. LeaseLostError and CancelledError are the
 * reasons ctx.signal aborts with.
 */

export interface BatonErrorInit {
  status: number;
  code: string;
  message: string;
  field?: string | null;
  retryAfterMs?: number | null;
  jobId?: string | null;
  requestId?: string | null;
  cause?: unknown;
}

/** An answer of the server that is not a success, or a failure to reach it. */
export class BatonError extends Error {
  /** HTTP status; 0 when no answer was received (connection failure, timeout). */
  readonly status: number;
  /** Stable error code of the API (`lease_mismatch`, `queue_full`, ...). */
  readonly code: string;
  /** Path of the field at fault (`jobs[3].queue`, `lease`), or null. */
  readonly field: string | null;
  /** Retry-After of a 429 or 503 answer, in milliseconds, or null. */
  readonly retryAfterMs: number | null;
  /** The other job a refusal names (409 `already_running`), or null. */
  readonly jobId: string | null;
  /** X-Request-Id of the answer, or null. */
  readonly requestId: string | null;

  constructor(init: BatonErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "BatonError";
    this.status = init.status;
    this.code = init.code;
    this.field = init.field ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.jobId = init.jobId ?? null;
    this.requestId = init.requestId ?? null;
  }
}

/** waitJob() ran out of time before the job ended; `job` is the job as last read. */
export class WaitTimeoutError extends BatonError {
  readonly job: unknown;
  constructor(message: string, job: unknown) {
    super({ status: 0, code: "wait_timeout", message });
    this.name = "WaitTimeoutError";
    this.job = job;
  }
}

/** Thrown by a handler: the attempt fails and the job goes dead at once (no retry). */
export class UnrecoverableError extends Error {
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UnrecoverableError";
  }
}

/** Thrown by a handler (or by ctx.retryIn): the attempt fails and is retried after retryInMs. */
export class RetryError extends Error {
  readonly retryInMs: number;
  constructor(retryInMs: number, message?: string) {
    super(message ?? `retry in ${retryInMs} ms`);
    this.name = "RetryError";
    this.retryInMs = retryInMs;
  }
}

/** ctx.signal's reason when the server no longer holds the attempt's lease for this worker. */
export class LeaseLostError extends Error {
  readonly jobId: string;
  constructor(jobId: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LeaseLostError";
    this.jobId = jobId;
  }
}

/** ctx.signal's reason when a cancel was requested for the running job. */
export class CancelledError extends Error {
  readonly jobId: string;
  constructor(jobId: string) {
    super(`job ${jobId} was cancelled`);
    this.name = "CancelledError";
    this.jobId = jobId;
  }
}
