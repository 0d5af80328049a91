/*
 * worker.ts: Worker, a queue consumer that runs a handler for each job with the
 * lease bookkeeping done for it.
 *
 * - Claims: long-polls of POST /v1/queues/{queue}/claim for the free slots
 *   (concurrency minus running handlers), split over up to `claimsInFlight`
 *   requests at once so the server serves one claim while the jobs of another
 *   run. After a slot frees the loop yields one event-loop turn first, so
 *   handlers that end together are refilled by one claim, not one each.
 * - Heartbeats: every job gets one at a third of its lease (leaseMs option,
 *   else the job's own lease_ms), and at once on ctx.progress(). The answer's
 *   cancel_requested aborts ctx.signal with a CancelledError. A 409
 *   lease_mismatch / lease_expired (or 404), or the lease running out locally
 *   while heartbeats fail, means the lease is lost: ctx.signal aborts with a
 *   LeaseLostError, the job is reported ('lost') and never settled.
 * - Settles: results are queued and sent together by POST /v1/settle at the
 *   end of the event-loop turn (up to 1,000 items a request). A settle is
 *   idempotent on the server (the same outcome with the same lease answers
 *   `repeat`), so a settle that failed in transit is sent again (bounded).
 * - Outcomes: a returned value completes the job; a thrown UnrecoverableError
 *   fails it without retry; RetryError (ctx.retryIn) fails it with retry after
 *   the given delay; any other throw fails it with retry per the job's backoff.
 * - close(): stops claiming (an in-flight long-poll is abandoned: the server
 *   drops a waiting claim whose client went away), waits for running handlers
 *   and their settles, then run() resolves.
 */
import { EventEmitter } from "node:events";
import * as os from "node:os";
import { randomBytes } from "node:crypto";
import { Client, ClientOptions } from "./client.js";
import { BatonError, CancelledError, LeaseLostError, RetryError, UnrecoverableError } from "./errors.js";
import { sleep } from "./http.js";
import type * as T from "./types.js";

export const VERSION = "0.1.0";

/** What a handler gets beside the job. */
export interface JobContext {
  /** Aborts when a cancel is requested (reason CancelledError) or the lease is lost (LeaseLostError). */
  readonly signal: AbortSignal;
  /** The attempt's lease token. */
  readonly lease: string;
  /** This worker's id. */
  readonly workerId: string;
  /**
   * Reports progress with a heartbeat sent now (it also extends the lease):
   * a percent 0-100 and an optional step name and message, or a whole object.
   */
  progress(percent: number | T.Progress, step?: string, message?: string): Promise<void>;
  /** Sends a heartbeat now (extends the lease). */
  heartbeat(): Promise<void>;
  /** Ends the attempt as failed, to be retried after ms (throws a RetryError; do not catch it). */
  retryIn(ms: number, message?: string): never;
}

export type Handler<P = unknown, R = unknown> = (job: T.ClaimedJob<P, R>, ctx: JobContext) => R | Promise<R>;

export interface WorkerOptions<P = unknown, R = unknown> extends Partial<ClientOptions> {
  /** The queue to consume. */
  queue: string;
  /** Runs each job; its return value is the job's result. */
  handler: Handler<P, R>;
  /** A Client to use (else one is made from url/key and the other client options). */
  client?: Client;
  /** Jobs run at once (default 1). */
  concurrency?: number;
  /** Worker id shown in the registry (default `<host>-<pid>-<random>`). */
  workerId?: string;
  /** Lease asked for at claim and each heartbeat, in ms (default: each job's own lease_ms). */
  leaseMs?: number;
  /** Heartbeat interval in ms (default: a third of the lease). */
  heartbeatMs?: number;
  /** Long-poll wait of each claim in ms (default 30000; at most the server's --wait-max-ms). */
  waitMs?: number;
  /** Most jobs per claim (default 1000, the server's --claim-max). */
  maxClaim?: number;
  /**
   * Claims in flight at once, each for a share of the free slots (default 1
   * up to concurrency 8, else 2): while one claim's jobs run, the next is
   * being served.
   */
  claimsInFlight?: number;
  /** Shown in the worker registry; default host, pid and version "baton-client/<version>". */
  info?: T.WorkerInfo;
  /** Labels added to info (e.g. {zone: "eu-1"}). */
  labels?: Record<string, string>;
  /** Close gracefully on SIGTERM and SIGINT (default false). */
  handleSignals?: boolean;
  /** Start claiming in the constructor, without run() (default false). */
  autorun?: boolean;
}

export interface WorkerEvents<P, R> {
  /** A job was completed: its result. */
  completed: [job: T.ClaimedJob<P, R>, result: R];
  /** A job's attempt was failed (it will be retried unless unrecoverable or out of attempts). */
  failed: [job: T.ClaimedJob<P, R>, error: unknown];
  /** The lease was lost mid-job (expired, timed out, taken over): the job was not settled. */
  lost: [job: T.ClaimedJob<P, R>, error: LeaseLostError];
  /** A cancel was requested while the job ran (ctx.signal aborted). */
  cancelled: [job: T.ClaimedJob<P, R>];
  /** A job was handed to the handler. */
  active: [job: T.ClaimedJob<P, R>];
  /** An error of the worker's own calls (claim, heartbeat, settle). */
  error: [error: unknown];
  /** close() is done: nothing runs any more. */
  closed: [];
}

interface Running<P, R> {
  job: T.ClaimedJob<P, R>;
  ac: AbortController;
  leaseMs: number;
  deadline: number;
  /** The attempt's timeout (claim + timeout_ms): no heartbeat extends the lease past it. */
  hardDeadline: number;
  timer: NodeJS.Timeout | null;
  hb: Promise<void> | null;
  progress: T.Progress | number | undefined;
  lost: boolean;
  finished: boolean;
}

interface QueuedSettle {
  item: T.SettleItem;
  done: (ans: T.SettleItemAnswer | BatonError) => void;
}

const LOST_CODES = new Set(["lease_mismatch", "lease_expired", "not_found"]);

export class Worker<P = unknown, R = unknown> extends EventEmitter {
  readonly client: Client;
  readonly queue: string;
  readonly workerId: string;
  readonly concurrency: number;
  private readonly handler: Handler<P, R>;
  private readonly leaseMs: number | undefined;
  private readonly heartbeatMs: number | undefined;
  private readonly waitMs: number;
  private readonly maxClaim: number;
  private readonly info: T.WorkerInfo;
  private readonly ownClient: boolean;
  private readonly handleSignals: boolean;

  private state: "idle" | "running" | "closing" | "closed" = "idle";
  private runPromise: Promise<void> | null = null;
  /** The claims in flight, each abortable by close(). */
  private claims = new Set<AbortController>();
  /** Slots promised to the claims in flight. */
  private reserved = 0;
  private backoff = 100;
  private backoffUntil = 0;
  private readonly claimsInFlight: number;
  private active = new Map<string, Running<P, R>>();
  private slotWaiter: (() => void) | null = null;
  private settleQueue: QueuedSettle[] = [];
  private settleScheduled = false;
  private settlesInFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private infoSent = false;
  private signalHandler: (() => void) | null = null;

  constructor(opts: WorkerOptions<P, R>) {
    super();
    if (!opts || typeof opts.queue !== "string" || typeof opts.handler !== "function") {
      throw new TypeError("Worker needs { queue, handler } and a client or url");
    }
    if (opts.client) {
      this.client = opts.client;
      this.ownClient = false;
    } else {
      if (typeof opts.url !== "string") throw new TypeError("Worker needs a client or a url");
      this.client = new Client(opts as ClientOptions);
      this.ownClient = true;
    }
    this.queue = opts.queue;
    this.handler = opts.handler;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
    this.workerId = opts.workerId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.leaseMs = opts.leaseMs;
    this.heartbeatMs = opts.heartbeatMs;
    this.waitMs = opts.waitMs ?? 30000;
    this.maxClaim = Math.max(1, opts.maxClaim ?? 1000);
    this.claimsInFlight = Math.max(1, Math.min(this.concurrency, Math.floor(opts.claimsInFlight ?? Math.min(2, Math.ceil(this.concurrency / 8)))));
    this.info = {
      host: os.hostname().slice(0, 255),
      pid: process.pid,
      version: `baton-client/${VERSION}`,
      ...opts.info,
      ...(opts.labels ? { labels: { ...opts.info?.labels, ...opts.labels } } : {}),
    };
    this.handleSignals = opts.handleSignals ?? false;
    if (opts.autorun) void this.run();
  }

  override on<K extends keyof WorkerEvents<P, R>>(event: K, listener: (...args: WorkerEvents<P, R>[K]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once<K extends keyof WorkerEvents<P, R>>(event: K, listener: (...args: WorkerEvents<P, R>[K]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  /** Jobs whose handler is running now. */
  get running(): number {
    return this.active.size;
  }

  /** True between run() and the end of close(). */
  get isRunning(): boolean {
    return this.state === "running" || this.state === "closing";
  }

  /** Claims and runs jobs until close(); resolves once closed (in-flight jobs finished and settled). */
  run(): Promise<void> {
    if (this.runPromise) return this.runPromise;
    if (this.state !== "idle") return Promise.reject(new Error("worker was closed"));
    this.state = "running";
    if (this.handleSignals) {
      this.signalHandler = () => void this.close();
      process.once("SIGTERM", this.signalHandler);
      process.once("SIGINT", this.signalHandler);
    }
    this.runPromise = this.loop();
    return this.runPromise;
  }

  /**
   * Stops claiming, lets running handlers finish and their settles be sent, then
   * resolves. Called before run(), it just marks the worker closed.
   */
  async close(): Promise<void> {
    if (this.state === "idle") {
      this.state = "closed";
      if (this.ownClient) this.client.close();
      return;
    }
    if (this.state === "running") {
      this.state = "closing";
      for (const ac of this.claims) ac.abort(new Error("worker closing"));
      this.wakeSlot();
    }
    if (this.runPromise) await this.runPromise;
  }

  private async loop(): Promise<void> {
    try {
      while (this.state === "running") {
        const free = this.concurrency - this.active.size - this.reserved;
        if (free <= 0 || this.claims.size >= this.claimsInFlight || this.backoffUntil > Date.now()) {
          await new Promise<void>((r) => {
            this.slotWaiter = r;
            if (this.backoffUntil > Date.now()) setTimeout(() => this.wakeSlot(), this.backoffUntil - Date.now());
          });
          // Let the other handlers that end in this turn free their slots too.
          await new Promise<void>((r) => setImmediate(r));
          continue;
        }
        // Several smaller claims in flight keep the server busy while the answers of others are handled.
        const max = Math.min(free, this.maxClaim, Math.ceil(this.concurrency / this.claimsInFlight));
        void this.claimOnce(max);
      }
      // Closing: the claims in flight were aborted; wait for them to end (one that was already
      // answered hands its jobs to handlers, which drain() then waits for).
      while (this.claims.size > 0) await new Promise<void>((r) => (this.slotWaiter = r));
    } finally {
      await this.drain();
      if (this.signalHandler) {
        process.removeListener("SIGTERM", this.signalHandler);
        process.removeListener("SIGINT", this.signalHandler);
        this.signalHandler = null;
      }
      this.state = "closed";
      if (this.ownClient) this.client.close();
      this.emit("closed");
    }
  }

  private async claimOnce(max: number): Promise<void> {
    const ac = new AbortController();
    this.claims.add(ac);
    this.reserved += max;
    const sentAt = Date.now();
    try {
      const req: T.ClaimRequest = { worker: this.workerId, max, waitMs: this.waitMs };
      if (this.leaseMs !== undefined) req.leaseMs = this.leaseMs;
      if (!this.infoSent) req.info = this.info;
      const jobs = await this.client.claimJobs<P, R>(this.queue, req, { signal: ac.signal });
      this.infoSent = true;
      this.backoff = 100;
      this.reserved -= max;
      for (const job of jobs) this.start(job, sentAt);
    } catch (e) {
      this.reserved -= max;
      if (this.state === "running") {
        this.emitError(e);
        // Bounded back-off on failure (100 ms doubling to 5 s) before the next claim.
        this.backoffUntil = Date.now() + this.backoff;
        this.backoff = Math.min(this.backoff * 2, 5000);
      }
    } finally {
      this.claims.delete(ac);
      this.wakeSlot();
    }
  }

  /** Waits for running handlers and queued or in-flight settles. */
  private drain(): Promise<void> {
    if (this.active.size === 0 && this.settleQueue.length === 0 && this.settlesInFlight === 0) return Promise.resolve();
    return new Promise<void>((r) => this.idleWaiters.push(r));
  }

  private checkIdle(): void {
    if (this.active.size === 0 && this.settleQueue.length === 0 && this.settlesInFlight === 0 && this.idleWaiters.length) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  private wakeSlot(): void {
    const w = this.slotWaiter;
    this.slotWaiter = null;
    if (w) w();
  }

  private emitError(e: unknown): void {
    if (this.listenerCount("error") > 0) this.emit("error", e);
    else console.error(`baton-client worker ${this.workerId}:`, e instanceof Error ? e.message : e);
  }

  private start(job: T.ClaimedJob<P, R>, sentAt: number): void {
    const leaseMs = this.leaseMs ?? job.leaseMs ?? 30000;
    const hardDeadline = job.timeoutMs ? sentAt + job.timeoutMs : Infinity;
    const deadline = Math.min(sentAt + leaseMs, hardDeadline);
    const run: Running<P, R> = {
      job,
      ac: new AbortController(),
      leaseMs,
      deadline,
      hardDeadline,
      timer: null,
      hb: null,
      progress: undefined,
      lost: false,
      finished: false,
    };
    this.active.set(job.id, run);
    this.schedule(run);
    const ctx: JobContext = {
      signal: run.ac.signal,
      lease: job.lease,
      workerId: this.workerId,
      progress: (p, step, message) => {
        const prog: T.Progress | number =
          typeof p === "number" ? (step === undefined && message === undefined ? p : { percent: p, step, message }) : p;
        run.progress = prog;
        return this.beat(run);
      },
      heartbeat: () => this.beat(run),
      retryIn: (ms, message) => {
        throw new RetryError(ms, message);
      },
    };
    if (this.listenerCount("active") > 0) this.emit("active", job);
    let p: Promise<R>;
    try {
      p = Promise.resolve(this.handler(job, ctx));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (result) => this.finish(run, { ok: true, result }),
      (err: unknown) => this.finish(run, { ok: false, err }),
    );
  }

  private schedule(run: Running<P, R>): void {
    if (run.finished || run.lost) return;
    const every = this.heartbeatMs ?? Math.max(100, Math.floor(run.leaseMs / 3));
    run.timer = setTimeout(() => {
      run.timer = null;
      void this.beat(run);
    }, every);
  }

  /** One heartbeat now (chained after one in flight); reschedules the next. */
  private beat(run: Running<P, R>): Promise<void> {
    if (run.finished || run.lost) return Promise.resolve();
    const prev = run.hb ?? Promise.resolve();
    const next = prev.then(() => this.beatOnce(run));
    run.hb = next;
    return next.finally(() => {
      if (run.hb === next) run.hb = null;
    });
  }

  private async beatOnce(run: Running<P, R>): Promise<void> {
    if (run.finished || run.lost) return;
    if (run.timer) {
      clearTimeout(run.timer);
      run.timer = null;
    }
    const req: T.HeartbeatRequest = { lease: run.job.lease };
    if (this.leaseMs !== undefined) req.extendMs = this.leaseMs;
    if (run.progress !== undefined) req.progress = run.progress;
    const sentAt = Date.now();
    try {
      const ans = await this.client.heartbeat(run.job.id, req, { timeoutMs: Math.max(1000, Math.min(30000, run.leaseMs / 3)) });
      run.deadline = Math.min(sentAt + run.leaseMs, run.hardDeadline);
      if (ans.cancelRequested && !run.ac.signal.aborted) {
        run.ac.abort(new CancelledError(run.job.id));
        if (this.listenerCount("cancelled") > 0) this.emit("cancelled", run.job);
      }
    } catch (e) {
      if (e instanceof BatonError && e.status >= 400 && LOST_CODES.has(e.code)) {
        this.markLost(run, new LeaseLostError(run.job.id, `lease of job ${run.job.id} lost: ${e.code}: ${e.message}`, { cause: e }));
        return;
      }
      this.emitError(e);
      if (Date.now() >= run.deadline) {
        this.markLost(run, new LeaseLostError(run.job.id, `lease of job ${run.job.id} ran out while heartbeats failed`, { cause: e }));
        return;
      }
    } finally {
      this.schedule(run);
    }
  }

  private markLost(run: Running<P, R>, err: LeaseLostError): void {
    if (run.lost) return;
    run.lost = true;
    if (run.timer) {
      clearTimeout(run.timer);
      run.timer = null;
    }
    if (!run.ac.signal.aborted) run.ac.abort(err);
    this.emit("lost", run.job, err);
  }

  private finish(run: Running<P, R>, out: { ok: true; result: R } | { ok: false; err: unknown }): void {
    run.finished = true;
    if (run.timer) {
      clearTimeout(run.timer);
      run.timer = null;
    }
    this.active.delete(run.job.id);
    this.wakeSlot();
    // A lease lost while the handler ran: the attempt is no longer ours to settle.
    if (run.lost || Date.now() >= run.deadline) {
      if (!run.lost) this.markLost(run, new LeaseLostError(run.job.id, `lease of job ${run.job.id} ran out before the handler ended`));
      this.checkIdle();
      return;
    }
    const job = run.job;
    let item: T.SettleItem;
    if (out.ok) {
      item = { id: job.id, lease: job.lease, outcome: "complete", result: out.result === undefined ? null : out.result };
    } else {
      const err = out.err;
      const fail: T.SettleItem = { id: job.id, lease: job.lease, outcome: "fail", error: errorText(err) };
      if (err instanceof UnrecoverableError) fail.retryable = false;
      else if (err instanceof RetryError) fail.retryInMs = Math.max(0, Math.round(err.retryInMs));
      item = fail;
    }
    this.settleQueue.push({
      item,
      done: (ans) => this.settled(run, item, out, ans),
    });
    if (!this.settleScheduled) {
      this.settleScheduled = true;
      setImmediate(() => this.flushSettles());
    }
  }

  private settled(run: Running<P, R>, item: T.SettleItem, out: { ok: true; result: R } | { ok: false; err: unknown }, ans: T.SettleItemAnswer | BatonError): void {
    const job = run.job;
    if (ans instanceof BatonError || !ans.ok) {
      const code = ans instanceof BatonError ? ans.code : ans.error?.code ?? "unknown";
      const msg = ans instanceof BatonError ? ans.message : ans.error?.message ?? "";
      if (LOST_CODES.has(code)) {
        this.markLost(run, new LeaseLostError(job.id, `lease of job ${job.id} lost at settle: ${code}: ${msg}`));
        return;
      }
      const e = ans instanceof BatonError ? ans : new BatonError({ status: 409, code, message: msg, field: ans.error?.field ?? null });
      this.emitError(e);
      // A result the server refuses (too large, ...) would leave the job running until its lease
      // ends: fail the attempt instead, so it is retried per its backoff.
      if (item.outcome === "complete" && !(ans instanceof BatonError && ans.status === 0)) {
        void this.client
          .failJob(job.id, job.lease, { error: `could not complete: ${code}: ${msg}`.slice(0, 8000) })
          .then(
            () => this.emit("failed", job, e),
            (e2) => this.emitError(e2),
          );
      }
      return;
    }
    if (out.ok) this.emit("completed", job, out.result);
    else this.emit("failed", job, out.err);
  }

  private flushSettles(): void {
    this.settleScheduled = false;
    while (this.settleQueue.length > 0) {
      const batch = this.settleQueue.splice(0, 1000);
      this.settlesInFlight++;
      void this.sendSettles(batch).finally(() => {
        this.settlesInFlight--;
        this.checkIdle();
      });
    }
  }

  private async sendSettles(batch: QueuedSettle[]): Promise<void> {
    // Settles repeat safely (same lease, same outcome: "repeat"), so a transport failure is retried.
    let delay = 200;
    for (let attempt = 0; ; attempt++) {
      try {
        const answers = await this.client.settle(batch.map((b) => b.item));
        for (let i = 0; i < batch.length; i++) {
          const a = answers[i];
          batch[i]!.done(a ?? new BatonError({ status: 200, code: "bad_answer", message: "settle answer is missing an item" }));
        }
        return;
      } catch (e) {
        const be = e instanceof BatonError ? e : new BatonError({ status: 0, code: "connection_error", message: String(e), cause: e });
        if (be.status === 0 && attempt < 4) {
          await sleep(delay);
          delay *= 2;
          continue;
        }
        if (be.status === 400 || be.status === 413) {
          // One item refused the whole request: settle each on its own, so the others still land.
          if (batch.length > 1) {
            await Promise.all(batch.map((b) => this.sendSettles([b])));
            return;
          }
        }
        for (const b of batch) b.done(be);
        return;
      }
    }
  }
}

/** The text stored as a failed attempt's error: the message, at most 8,000 characters. */
function errorText(err: unknown): string {
  let s: string;
  if (err instanceof Error) s = err.message || err.name;
  else if (typeof err === "string") s = err;
  else {
    try {
      s = JSON.stringify(err) ?? String(err);
    } catch {
      s = String(err);
    }
  }
  if (s === "") s = "error";
  // The server takes at most 8 KiB (--error-max-bytes): cut by bytes, not characters.
  if (Buffer.byteLength(s) > 8000) {
    s = Buffer.from(s).subarray(0, 8000).toString("utf8").replace(/\uFFFD+$/, "");
  }
  return s;
}
