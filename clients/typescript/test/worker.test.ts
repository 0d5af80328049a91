/*
 * worker.test.ts: Worker against a real batond (started with --lease-min-ms 200
 * so that lease tests take well under a second): results and progress reach
 * the job, concurrency is honoured, UnrecoverableError goes dead without retry,
 * other throws are retried, ctx.retryIn delays the retry, a cancel aborts
 * ctx.signal, a lost lease aborts it, is reported and never settled, close()
 * finishes in-flight jobs and claims no more, settles are batched, the
 * registry shows the worker, handleSignals closes on SIGTERM.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, Worker, UnrecoverableError, CancelledError, LeaseLostError } from "../src/index.js";
import type { CallOptions, ClaimedJob, Job, SettleItem } from "../src/index.js";
import { startServer, Server, qname, sleep, waitFor } from "./helpers.js";

let srv: Server;
let c: Client;

before(async () => {
  srv = await startServer(["--lease-min-ms", "200"]);
  c = new Client({ url: srv.url, key: srv.adminKey });
});

after(async () => {
  c?.close();
  await srv?.stop();
});

test("a worker runs jobs with concurrency, results and progress reach the job, completed events fire", async () => {
  const queue = qname("work");
  const jobs = await c.enqueueBatch(Array.from({ length: 9 }, (_x, i) => ({ queue, type: "t", payload: { i } })));
  let running = 0;
  let maxRunning = 0;
  const done: string[] = [];
  const w = new Worker<{ i: number }, { double: number }>({
    url: srv.url,
    key: srv.adminKey,
    queue,
    concurrency: 3,
    waitMs: 200,
    workerId: "w-conc",
    handler: async (job, ctx) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await ctx.progress(50, "half", "halfway there");
      await sleep(100);
      running--;
      return { double: job.payload.i * 2 };
    },
  });
  w.on("completed", (job, result) => {
    assert.equal(result.double, job.payload.i * 2);
    done.push(job.id);
  });
  const run = w.run();
  assert.ok(await waitFor(() => done.length === 9, 10000), `completed ${done.length}`);
  assert.equal(maxRunning, 3);
  const rec = await c.getWorker("w-conc");
  assert.equal(rec.completed, 9);
  assert.equal(rec.info?.pid, process.pid);
  await w.close();
  await run;
  const j = await c.getJob(jobs[4]!.id);
  assert.equal(j.state, "completed");
  assert.deepEqual(j.result, { double: 8 });
  assert.deepEqual(j.progress, { percent: 50, step: "half", message: "halfway there" });
  assert.equal(j.steps[0]!.step, "half");
  assert.equal(j.worker, "w-conc");
});

test("several claims in flight never run more handlers than concurrency", async () => {
  const queue = qname("claims");
  await c.enqueueBatch(Array.from({ length: 60 }, (_x, i) => ({ queue, type: "t", payload: i })));
  let running = 0;
  let maxRunning = 0;
  let n = 0;
  const w = new Worker({ client: c, queue, concurrency: 10, claimsInFlight: 3, waitMs: 100, handler: async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await sleep(20);
    running--;
    return null;
  } });
  w.on("completed", () => n++);
  void w.run();
  assert.ok(await waitFor(() => n === 60, 10000), `completed ${n}`);
  await w.close();
  assert.ok(maxRunning <= 10, `ran ${maxRunning} at once`);
  assert.ok(maxRunning >= 8, `ran only ${maxRunning} at once`);
});

test("UnrecoverableError: dead after one attempt; other throws: retried; ctx.retryIn delays the retry", async () => {
  const queue = qname("fail");
  const un = await c.enqueue({ queue, type: "unrecoverable", maxAttempts: 5 });
  const flaky = await c.enqueue({ queue, type: "flaky", maxAttempts: 3, backoff: { type: "immediate" } });
  const later = await c.enqueue({ queue, type: "later", maxAttempts: 3 });
  const starts: Record<string, number[]> = {};
  const failed: [string, unknown][] = [];
  const w = new Worker({
    client: c,
    queue,
    concurrency: 4,
    waitMs: 100,
    handler: async (job: ClaimedJob, ctx) => {
      (starts[job.type] ??= []).push(Date.now());
      if (job.type === "unrecoverable") throw new UnrecoverableError("bad input");
      if (job.type === "flaky" && job.attempt < 3) throw new Error(`flaky ${job.attempt}`);
      if (job.type === "later" && job.attempt === 1) ctx.retryIn(400, "not yet");
      return "ok";
    },
  });
  w.on("failed", (job, err) => failed.push([job.type, err]));
  void w.run();
  const end = async (id: string) => {
    let j: Job | undefined;
    await waitFor(async () => {
      j = await c.getJob(id);
      return j.state === "completed" || j.state === "dead";
    }, 8000);
    return j!;
  };
  const u = await end(un.id);
  assert.equal(u.state, "dead");
  assert.equal(u.attempts.length, 1);
  assert.equal(u.lastError, "bad input");
  const f = await end(flaky.id);
  assert.equal(f.state, "completed");
  assert.equal(f.attempt, 3);
  assert.deepEqual(f.attempts.map((a) => a.outcome), ["failed", "failed", "completed"]);
  assert.equal(f.attempts[0]!.error, "flaky 1");
  const l = await end(later.id);
  assert.equal(l.state, "completed");
  assert.equal(l.attempts[0]!.error, "not yet");
  const gap = starts["later"]![1]! - starts["later"]![0]!;
  assert.ok(gap >= 350, `retryIn(400) waited ${gap} ms`);
  assert.ok(failed.some(([t, e]) => t === "unrecoverable" && e instanceof UnrecoverableError));
  await w.close();
});

test("a cancel requested while running aborts ctx.signal with CancelledError; the job ends cancelled", async () => {
  const queue = qname("cancel");
  const job = await c.enqueue({ queue, type: "t", leaseMs: 600 });
  let reason: unknown;
  let started = false;
  const cancelledEvents: string[] = [];
  const w = new Worker({
    client: c,
    queue,
    waitMs: 100,
    handler: async (_job, ctx) => {
      started = true;
      await new Promise<void>((resolve) => {
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
        setTimeout(resolve, 5000);
      });
      reason = ctx.signal.reason;
      throw reason;
    },
  });
  w.on("cancelled", (j) => cancelledEvents.push(j.id));
  void w.run();
  assert.ok(await waitFor(() => started, 5000));
  await c.cancelJob(job.id); // running: marked cancel_requested; the next heartbeat (lease/3 = 200 ms) learns it
  const t0 = Date.now();
  assert.ok(await waitFor(async () => (await c.getJob(job.id)).state === "cancelled", 5000));
  assert.ok(Date.now() - t0 < 3000);
  assert.ok(reason instanceof CancelledError, `reason ${String(reason)}`);
  assert.deepEqual(cancelledEvents, [job.id]);
  await w.close();
});

test("a lease lost mid-job aborts ctx.signal with LeaseLostError, is reported, and is never settled", async () => {
  const queue = qname("lost");
  const job = await c.enqueue({ queue, type: "t", leaseMs: 300, maxAttempts: 3, backoff: { type: "fixed", baseMs: 60000 } });
  const lost: [string, LeaseLostError][] = [];
  const completed: string[] = [];
  let reason: unknown;
  let hbError: unknown;
  const w = new Worker({
    client: c,
    queue,
    waitMs: 100,
    heartbeatMs: 60000, // no automatic heartbeat: the lease runs out
    handler: async (_job, ctx) => {
      await sleep(800);
      try {
        await ctx.heartbeat();
      } catch (e) {
        hbError = e;
      }
      reason = ctx.signal.reason;
      return "too late";
    },
  });
  w.on("lost", (j, e) => lost.push([j.id, e]));
  w.on("completed", (j) => completed.push(j.id));
  void w.run();
  assert.ok(await waitFor(() => lost.length > 0, 5000), "lost reported");
  await w.close();
  assert.equal(hbError, undefined, "ctx.heartbeat() does not throw; the loss goes to ctx.signal");
  assert.equal(lost[0]![0], job.id);
  assert.ok(lost[0]![1] instanceof LeaseLostError);
  assert.ok(reason instanceof LeaseLostError);
  assert.deepEqual(completed, []);
  const j = await c.getJob(job.id);
  assert.equal(j.state, "retrying", "the server failed the attempt at lease expiry; nobody completed it");
  assert.equal(j.attempts[0]!.outcome, "lease_expired");
  assert.equal(j.result, null);
  const rec = await c.getWorker(w.workerId);
  assert.equal(rec.completed + rec.failed, 0, "the worker never settled it");
});

test("heartbeats keep a short lease alive for a job longer than the lease", async () => {
  const queue = qname("hb");
  const job = await c.enqueue({ queue, type: "t", leaseMs: 300 });
  const lost: string[] = [];
  const w = new Worker({ client: c, queue, waitMs: 100, handler: async () => {
    await sleep(1000);
    return "done";
  } });
  w.on("lost", (j) => lost.push(j.id));
  void w.run();
  const done = await c.waitJob(job.id, { timeoutMs: 5000 });
  await w.close();
  assert.equal(done.state, "completed");
  assert.equal(done.attempts.length, 1);
  assert.deepEqual(lost, []);
});

test("close() stops claiming and finishes the in-flight job; run() resolves after it", async () => {
  const queue = qname("close");
  const [a, b] = await c.enqueueBatch([{ queue, type: "t" }, { queue, type: "t" }]);
  let finished = false;
  const w = new Worker({ client: c, queue, concurrency: 1, waitMs: 5000, handler: async () => {
    await sleep(400);
    finished = true;
    return 1;
  } });
  let active = 0;
  w.on("active", () => active++);
  const run = w.run();
  assert.ok(await waitFor(() => active === 1, 5000));
  const t0 = Date.now();
  await w.close();
  assert.ok(finished, "close waited for the handler");
  await run;
  assert.ok(Date.now() - t0 < 3000, "close did not wait for the long-poll");
  assert.equal((await c.getJob(a!.id)).state, "completed", "its settle was sent before close resolved");
  assert.equal((await c.getJob(b!.id)).state, "queued", "no claim after close");
  assert.equal(w.isRunning, false);
  // Closing an idle worker in a long poll is prompt.
  const idle = new Worker({ client: c, queue: qname("idle"), waitMs: 30000, handler: () => 1 });
  const r2 = idle.run();
  await sleep(100);
  const t1 = Date.now();
  await idle.close();
  await r2;
  assert.ok(Date.now() - t1 < 1000);
});

test("settles are batched: many jobs done in one turn go in few settle requests", async () => {
  const queue = qname("batchsettle");
  await c.enqueueBatch(Array.from({ length: 300 }, (_x, i) => ({ queue, type: "t", payload: i })));
  class CountingClient extends Client {
    sizes: number[] = [];
    override settle(items: SettleItem[], o?: CallOptions) {
      this.sizes.push(items.length);
      return super.settle(items, o);
    }
  }
  const cc = new CountingClient({ url: srv.url, key: srv.adminKey });
  const w = new Worker({ client: cc, queue, concurrency: 100, waitMs: 100, handler: (job) => job.payload });
  let n = 0;
  w.on("completed", () => n++);
  void w.run();
  assert.ok(await waitFor(() => n === 300, 10000), `completed ${n}`);
  await w.close();
  cc.close();
  const rec = await c.getWorker(w.workerId);
  assert.equal(rec.completed, 300);
  assert.equal(cc.sizes.reduce((a, b) => a + b, 0), 300);
  assert.ok(cc.sizes.length <= 30, `${cc.sizes.length} settle requests for 300 jobs`);
  assert.ok(Math.max(...cc.sizes) >= 50, `largest settle ${Math.max(...cc.sizes)}`);
});

test("handleSignals: SIGTERM closes the worker gracefully", async () => {
  const queue = qname("sig");
  const job = await c.enqueue({ queue, type: "t" });
  let finished = false;
  const w = new Worker({ client: c, queue, waitMs: 5000, handleSignals: true, handler: async () => {
    await sleep(300);
    finished = true;
    return "ok";
  } });
  let active = false;
  w.on("active", () => (active = true));
  const run = w.run();
  assert.ok(await waitFor(() => active, 5000));
  process.kill(process.pid, "SIGTERM");
  await run;
  assert.ok(finished);
  assert.equal((await c.getJob(job.id)).state, "completed");
  assert.equal(process.listenerCount("SIGTERM"), 0, "the signal handler was removed");
});

test("a handler result the server refuses fails the attempt instead of leaving it running", async () => {
  const queue = qname("big");
  const job = await c.enqueue({ queue, type: "t", maxAttempts: 1 });
  const errors: unknown[] = [];
  const w = new Worker({ client: c, queue, waitMs: 100, handler: () => "x".repeat(300 * 1024) });
  w.on("error", (e) => errors.push(e));
  void w.run();
  const j = await c.waitJob(job.id, { timeoutMs: 5000 });
  await w.close();
  assert.equal(j.state, "dead");
  assert.match(j.lastError ?? "", /result_too_large/);
  assert.ok(errors.length >= 1);
});
