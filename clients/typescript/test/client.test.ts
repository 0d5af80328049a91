/*
 * client.test.ts: Client against a real batond: the camelCase mapping, errors
 * from real 4xx answers, 429/503 retried after Retry-After, list iterators that
 * cross pages, coalesced enqueue (one request, each caller its own job or
 * error), idempotency duplicates, waitJob, and every other route family
 * (queues, dead letters, bulk, cron, timers, flows, keys, audit, workers,
 * scheduler, metrics).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, BatonError, WaitTimeoutError, Worker } from "../src/index.js";
import type { EnqueueJob, Job } from "../src/index.js";
import { startServer, Server, qname, sleep } from "./helpers.js";

let srv: Server;
let c: Client;

before(async () => {
  srv = await startServer();
  c = new Client({ url: srv.url, key: srv.adminKey });
});

after(async () => {
  c?.close();
  await srv?.stop();
});

async function rejects(p: Promise<unknown>): Promise<BatonError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BatonError) return e;
    assert.fail(`expected BatonError, got ${String(e)}`);
  }
  assert.fail("expected the call to be refused");
}

test("enqueue answers every job member in camelCase, payload kept as sent; getJob reads it back", async () => {
  const queue = qname("emails");
  const job = await c.enqueue({
    queue,
    type: "welcome",
    payload: { user_id: 7, nested: { some_key: true } },
    idempotencyKey: "welcome-7-" + queue,
    maxAttempts: 5,
    backoff: { type: "fixed", baseMs: 250 },
    priority: "high",
    executionId: "exec-1",
  });
  assert.equal(typeof job.id, "string");
  assert.equal(job.state, "queued");
  assert.equal(job.maxAttempts, 5);
  assert.equal(job.idempotencyKey, "welcome-7-" + queue);
  assert.deepEqual(job.backoff, { type: "fixed", baseMs: 250, maxMs: 300000 });
  assert.deepEqual(job.payload, { user_id: 7, nested: { some_key: true } });
  assert.equal(job.duplicate, undefined);
  const same = await c.getJob(job.id);
  for (const k of ["runAt", "leaseMs", "timeoutMs", "uniqueWhile", "createdAt", "lastError", "cancelRequested", "dependsOn", "onParentFailure", "flowId"]) {
    assert.ok(k in same, `member ${k} missing`);
  }
  assert.equal(same.executionId, "exec-1");
  assert.equal(same.priority, "high");
  const again = await c.enqueue({ queue, type: "welcome", payload: { user_id: 7, nested: { some_key: true } }, idempotencyKey: "welcome-7-" + queue });
  assert.equal(again.duplicate, true);
  assert.equal(again.id, job.id);
  const conflict = await rejects(c.enqueue({ queue, type: "welcome", payload: { user_id: 8 }, idempotencyKey: "welcome-7-" + queue }));
  assert.equal(conflict.status, 409);
  assert.equal(conflict.code, "idempotency_conflict");
});

test("a real 400 gives status, code, field and message; 404 for a missing job; 403 for a missing scope; 404 across tenants", async () => {
  const e1 = await rejects(c.enqueue({ queue: qname("q"), type: "t", attempts: 3 } as unknown as EnqueueJob, { coalesce: false }));
  assert.equal(e1.status, 400);
  assert.equal(e1.code, "unknown_field");
  assert.equal(e1.field, "attempts");
  assert.match(e1.message, /max_attempts/);
  assert.ok(e1.requestId);
  const e2 = await rejects(c.getJob("999999999"));
  assert.equal(e2.status, 404);
  assert.equal(e2.code, "not_found");
  const reader = await c.createKey({ name: "reader", scopes: ["jobs:read"] });
  const rc = new Client({ url: srv.url, key: reader.secret });
  const e3 = await rejects(rc.enqueue({ queue: qname("q"), type: "t" }));
  assert.equal(e3.status, 403);
  assert.equal(e3.code, "forbidden");
  const mine = await c.enqueue({ queue: qname("q"), type: "t" });
  assert.equal((await rc.getJob(mine.id)).id, mine.id);
  const other = await c.createKey({ name: "other", tenant: "t2", scopes: ["admin"] });
  const oc = new Client({ url: srv.url, key: other.secret });
  const e4 = await rejects(oc.getJob(mine.id));
  assert.equal(e4.status, 404);
  const bad = new Client({ url: srv.url, key: "bk_nope_0000" });
  const e5 = await rejects(bad.getQueue("x"));
  assert.equal(e5.status, 401);
  assert.equal(e5.code, "unauthenticated");
  rc.close();
  oc.close();
  bad.close();
});

test("429 rate_limited: retryAfterMs with retries off, retried after Retry-After with retries on", async () => {
  const k = await c.createKey({ name: "slow", scopes: ["jobs:read"], rateLimit: { max: 1, perMs: 1000 } });
  const strict = new Client({ url: srv.url, key: k.secret, maxRetries: 0 });
  await strict.health();
  await strict.getScheduler().catch(() => undefined); // spends the one token (403 or 200, both count)
  const e = await rejects(strict.listQueuesPage());
  assert.equal(e.status, 429);
  assert.equal(e.code, "rate_limited");
  assert.ok(e.retryAfterMs !== null && e.retryAfterMs >= 1000, `retryAfterMs ${e.retryAfterMs}`);
  strict.close();
  const patient = new Client({ url: srv.url, key: k.secret, maxRetries: 3, retryBudgetMs: 5000 });
  await sleep(1100);
  await patient.listQueuesPage();
  const t0 = Date.now();
  const page = await patient.listQueuesPage(); // refused once, then answered after Retry-After
  assert.ok(Array.isArray(page.items));
  assert.ok(Date.now() - t0 >= 500, "the retry waited for Retry-After");
  const budget = new Client({ url: srv.url, key: k.secret, maxRetries: 3, retryBudgetMs: 10 });
  const e2 = await rejects(budget.listQueuesPage());
  assert.equal(e2.status, 429, "a retry budget smaller than Retry-After gives up at once");
  patient.close();
  budget.close();
});

test("503 queue_full: retryAfterMs with retries off; retried until room is made", async () => {
  const queue = qname("full");
  await c.updateQueue(queue, { maxDepth: 1 });
  const first = await c.enqueue({ queue, type: "t" });
  const strict = new Client({ url: srv.url, key: srv.adminKey, maxRetries: 0 });
  const e = await rejects(strict.enqueue({ queue, type: "t" }));
  assert.equal(e.status, 503);
  assert.equal(e.code, "queue_full");
  assert.equal(e.retryAfterMs, 1000);
  strict.close();
  const patient = new Client({ url: srv.url, key: srv.adminKey, maxRetries: 5, retryBudgetMs: 10000 });
  const p = patient.enqueue({ queue, type: "t" });
  await sleep(300);
  await c.cancelJob(first.id);
  const second = await p;
  assert.equal(second.state, "queued");
  patient.close();
});

test("coalesced enqueue: concurrent calls share one request, each caller gets its own job or its own error", async () => {
  const queue = qname("coalesce");
  const calls: Promise<Job>[] = [];
  for (let i = 0; i < 50; i++) {
    if (i === 17) calls.push(c.enqueue({ queue, type: "t", payload: { i }, priority: "urgent" as never }));
    else if (i === 33) calls.push(c.enqueue({ queue: "bad queue!", type: "t", payload: { i } }));
    else calls.push(c.enqueue({ queue, type: "t", payload: { i } }));
  }
  const res = await Promise.allSettled(calls);
  const ok = res.filter((r): r is PromiseFulfilledResult<Job> => r.status === "fulfilled").map((r) => r.value);
  assert.equal(ok.length, 48);
  const bad17 = res[17] as PromiseRejectedResult;
  assert.ok(bad17.reason instanceof BatonError);
  assert.equal(bad17.reason.status, 400);
  assert.equal(bad17.reason.field, "priority", "the element prefix jobs[i]. is removed");
  const bad33 = res[33] as PromiseRejectedResult;
  assert.equal((bad33.reason as BatonError).field, "queue");
  for (let i = 0; i < 50; i++) {
    if (i === 17 || i === 33) continue;
    assert.deepEqual((res[i] as PromiseFulfilledResult<Job>).value.payload, { i }, "each caller gets its own job");
  }
  assert.equal(new Set(ok.map((j) => j.id)).size, 48);
  // The jobs of one request share its X-Request-Id (generated by the server): 50 calls of
  // one turn go in two batch requests (the turn's jobs split in halves).
  const rids = new Set(ok.map((j) => j.requestId));
  assert.equal(rids.size, 2, `two batch requests, got ${rids.size}`);
  const small = await Promise.all([1, 2, 3].map((i) => c.enqueue({ queue, type: "t", payload: { i } })));
  assert.equal(new Set(small.map((j) => j.requestId)).size, 1, "three calls of one turn: one request");
  const mins = await Promise.all([1, 2, 3].map((i) => c.enqueue({ queue, type: "t", payload: { i } }, { minimal: true })));
  assert.deepEqual(Object.keys(mins[0]!).sort(), ["id", "state", "version"]);
  assert.equal(new Set(mins.map((j) => j.id)).size, 3);
  // Opting out sends a request per job.
  const single = await Promise.all([1, 2, 3].map((i) => c.enqueue({ queue, type: "t", payload: { i } }, { coalesce: false })));
  assert.equal(new Set(single.map((j) => j.requestId)).size, 3);
  const nc = new Client({ url: srv.url, key: srv.adminKey, coalesce: false });
  const single2 = await Promise.all([1, 2].map((i) => nc.enqueue({ queue, type: "t", payload: { i } })));
  assert.equal(new Set(single2.map((j) => j.requestId)).size, 2);
  nc.close();
  // Duplicates inside a coalesced batch are marked per caller.
  const key = "dup-" + queue;
  const [a, b] = await Promise.all([c.enqueue({ queue, type: "t", payload: 1, idempotencyKey: key }), c.enqueue({ queue, type: "t", payload: 1, idempotencyKey: key })]);
  assert.equal(a!.id, b!.id);
  assert.equal(b!.duplicate, true);
  // An idempotency conflict inside a batch refuses only its caller.
  const key2 = "conf-" + queue;
  const r2 = await Promise.allSettled([
    c.enqueue({ queue, type: "t", payload: 1, idempotencyKey: key2 }),
    c.enqueue({ queue, type: "t", payload: 2, idempotencyKey: key2 }),
    c.enqueue({ queue, type: "t", payload: 3 }),
  ]);
  assert.equal(r2[0]!.status, "fulfilled");
  assert.equal(r2[1]!.status, "rejected");
  assert.equal(((r2[1] as PromiseRejectedResult).reason as BatonError).code, "idempotency_conflict");
  assert.equal(r2[2]!.status, "fulfilled");
  // More than 1,000 concurrent calls go as several batches, all answered.
  const many = await Promise.all(Array.from({ length: 2100 }, (_x, i) => c.enqueue({ queue, type: "t", payload: { i } })));
  assert.equal(new Set(many.map((j) => j.id)).size, 2100);
  assert.ok(new Set(many.map((j) => j.requestId)).size >= 3, "at most 1,000 jobs per request");
});

test("enqueueBatch is atomic and answers in order; minimal answers only id, state, version", async () => {
  const queue = qname("batch");
  const jobs = await c.enqueueBatch([{ queue, type: "a" }, { queue, type: "b" }]);
  assert.deepEqual(jobs.map((j) => j.type), ["a", "b"]);
  const min = await c.enqueueBatch([{ queue, type: "a" }], { minimal: true });
  assert.deepEqual(Object.keys(min[0]!).sort(), ["id", "state", "version"]);
  const e = await rejects(c.enqueueBatch([{ queue, type: "a" }, { queue, type: "b", maxAttempts: 0 }]));
  assert.equal(e.field, "jobs[1].max_attempts");
  assert.equal((await c.listJobsPage({ queue })).items.length, 3, "nothing of the refused batch was stored");
});

test("list iterators follow the cursor across pages (jobs, filters, order)", async () => {
  const queue = qname("pages");
  const made = await c.enqueueBatch(Array.from({ length: 25 }, (_x, i) => ({ queue, type: i % 2 ? "odd" : "even", payload: { i } })));
  const seen: string[] = [];
  for await (const j of c.listJobs({ queue, limit: 10 })) seen.push(j.id);
  assert.deepEqual(seen, made.map((j) => j.id));
  const p1 = await c.listJobsPage({ queue, limit: 10 });
  assert.equal(p1.items.length, 10);
  assert.ok(p1.next);
  const desc: string[] = [];
  for await (const j of c.listJobs({ queue, type: "odd", order: "desc", limit: 5 })) desc.push(j.id);
  assert.equal(desc.length, 12);
  assert.deepEqual(desc, made.filter((_j, i) => i % 2).map((j) => j.id).reverse());
  let n = 0;
  for await (const j of c.listJobs({ queue, state: ["queued", "dead"], limit: 7 })) {
    assert.equal(j.state, "queued");
    n++;
  }
  assert.equal(n, 25);
  const e = await rejects(c.listJobsPage({ queue, state: "nope" as never }));
  assert.equal(e.code, "invalid_field");
});

test("waitJob answers the job once it ends; WaitTimeoutError when it does not", async () => {
  const queue = qname("wait");
  const job = await c.enqueue({ queue, type: "t", payload: { n: 2 } });
  const w = new Worker<{ n: number }, number>({ client: c, queue, waitMs: 500, handler: async (j) => {
    await sleep(200);
    return j.payload.n * 21;
  } });
  void w.run();
  const done = await c.waitJob<{ n: number }, number>(job.id, { timeoutMs: 10000 });
  assert.equal(done.state, "completed");
  assert.equal(done.result, 42);
  await w.close();
  const lone = await c.enqueue({ queue: qname("nobody"), type: "t" });
  const t0 = Date.now();
  await assert.rejects(c.waitJob(lone.id, { timeoutMs: 300 }), (e: unknown) => {
    assert.ok(e instanceof WaitTimeoutError);
    assert.equal(((e as WaitTimeoutError).job as Job).state, "queued");
    return true;
  });
  assert.ok(Date.now() - t0 >= 290);
});

test("job actions: edit, promote, cancel, retry, purge, bulk", async () => {
  const queue = qname("acts");
  const j = await c.enqueue({ queue, type: "t", delayMs: 60000, payload: { v: 1 } });
  assert.equal(j.state, "scheduled");
  const edited = await c.editJob(j.id, { priority: "low", payload: { v: 2 } });
  assert.equal(edited.priority, "low");
  assert.deepEqual(edited.payload, { v: 2 });
  assert.equal(edited.version, 2);
  const promoted = await c.promoteJob(j.id);
  assert.equal(promoted.state, "queued");
  const cancelled = await c.cancelJob(j.id);
  assert.equal(cancelled.state, "cancelled");
  assert.equal(cancelled.cancelReason, "cancelled");
  const e = await rejects(c.cancelJob(j.id));
  assert.equal(e.code, "invalid_state");
  const retried = await c.retryJob(j.id);
  assert.equal(retried.state, "queued");
  await c.cancelJob(j.id);
  const purged = await c.purgeJob(j.id);
  assert.equal(purged.id, j.id);
  assert.equal((await rejects(c.getJob(j.id))).status, 404);
  await c.enqueueBatch(Array.from({ length: 5 }, () => ({ queue, type: "bulk", delayMs: 60000 })));
  const r = await c.bulkJobs({ action: "promote", filter: { queue, state: "scheduled" }, limit: 2 });
  assert.equal(r.changed, 2);
  assert.ok(r.next);
  const all = await c.bulkJobsAll("cancel", { queue, type: "bulk" }, { limit: 2 });
  assert.equal(all.changed, 5);
});

test("queues and dead letters: get, list, update, replay, purge, drain, delete", async () => {
  const queue = qname("dlq");
  const qd = await c.updateQueue(queue, { concurrency: 4, rate: { max: 100, perMs: 1000 }, retention: { completedMs: 60000 }, timeoutMs: 60000 });
  assert.equal(qd.concurrency, 4);
  assert.deepEqual(qd.rate, { max: 100, perMs: 1000 });
  assert.equal(qd.retention.completedMs, 60000);
  assert.equal(qd.defaults.timeoutMs, 60000);
  const j = await c.enqueue({ queue, type: "t", maxAttempts: 1 });
  const [claimed] = await c.claimJobs(queue, { worker: "w-dlq", max: 1 });
  assert.equal(claimed!.id, j.id);
  assert.equal(typeof claimed!.lease, "string");
  const hb = await c.heartbeat(j.id, { lease: claimed!.lease, progress: { percent: 10, step: "s1", custom_member: 1 } });
  assert.equal(hb.cancelRequested, false);
  const f = await c.failJob(j.id, claimed!.lease, { error: "boom", retryable: false });
  assert.equal(f.job.state, "dead");
  assert.deepEqual(f.job.progress, { percent: 10, step: "s1", custom_member: 1 });
  const rep = await c.failJob(j.id, claimed!.lease, { error: "boom", retryable: false });
  assert.equal(rep.repeat, true);
  const dead: string[] = [];
  for await (const d of c.listDeadJobs(queue)) dead.push(d.id);
  assert.deepEqual(dead, [j.id]);
  assert.equal(await c.replayDeadJobs(queue, { ids: [j.id] }), 1);
  const [again] = await c.claimJobs(queue, { worker: "w-dlq", max: 1 });
  const items = await c.settle([{ id: again!.id, lease: again!.lease, outcome: "fail", error: "x", retryable: false }, { id: again!.id, lease: "nope", outcome: "complete" }]);
  assert.equal(items[0]!.ok, true);
  assert.equal(items[1]!.ok, false);
  assert.equal(items[1]!.error!.code, "lease_mismatch");
  assert.equal(await c.purgeDeadJobs(queue), 1);
  await c.enqueueBatch([{ queue, type: "t" }, { queue, type: "t" }]);
  const paused = await c.pauseQueue(queue);
  assert.equal(paused.paused, true);
  assert.equal((await c.resumeQueue(queue)).paused, false);
  const dr = await c.drainQueue(queue);
  assert.equal(dr.cancelled, 2);
  assert.equal(dr.more, false);
  const got = await c.getQueue(queue);
  assert.equal(got.counts.cancelled, 2);
  const names: string[] = [];
  for await (const q of c.listQueues({ limit: 2 })) names.push(q.name);
  assert.ok(names.includes(queue));
  const del = await c.deleteQueue(queue);
  assert.equal(del.deleted, true);
  assert.equal((await rejects(c.getQueue(queue))).status, 404);
  const nonEmpty = qname("busy");
  await c.enqueue({ queue: nonEmpty, type: "t" });
  assert.equal((await rejects(c.deleteQueue(nonEmpty))).code, "queue_not_empty");
});

test("cron: preview, put, get, list, pause, resume, run, runs, apply, delete; scheduler", async () => {
  const queue = qname("cronq");
  const pv = await c.previewCron({ cron: "*/5 * * * *", count: 3, from: new Date("2026-01-01T00:00:00Z") });
  assert.equal(pv.valid, true);
  assert.deepEqual(pv.fires, ["2026-01-01T00:05:00.000Z", "2026-01-01T00:10:00.000Z", "2026-01-01T00:15:00.000Z"]);
  assert.equal(pv.minIntervalMs, 300000);
  const bad = await c.previewCron({ cron: "61 * * * *" });
  assert.equal(bad.valid, false);
  const put = await c.putCron("nightly-ts", { cron: "30 2 * * *", timezone: "Europe/Berlin", job: { queue, type: "rebuild", payload: { full_run: true } }, overlap: "allow", catchupMax: 3 });
  assert.equal(put.created, true);
  assert.equal(put.schedule.catchupMax, 3);
  assert.deepEqual(put.schedule.job.payload, { full_run: true });
  assert.equal((await c.putCron("nightly-ts", { cron: "30 3 * * *", job: { queue, type: "rebuild" } })).created, false);
  assert.equal((await c.getCron("nightly-ts")).cron, "30 3 * * *");
  const keys: string[] = [];
  for await (const s of c.listCron({ limit: 1 })) keys.push(s.key);
  assert.ok(keys.includes("nightly-ts"));
  const p = await c.pauseCron("nightly-ts", "maintenance");
  assert.equal(p.paused, true);
  assert.equal(p.pauseNote, "maintenance");
  assert.equal((await c.resumeCron("nightly-ts")).paused, false);
  const run = await c.runCron("nightly-ts", { payload: { extra: 1 } });
  assert.equal(run.trigger, "manual");
  const job = await c.getJob(run.jobId!);
  assert.deepEqual(job.cron, { key: "nightly-ts", run: run.id });
  const runs: string[] = [];
  for await (const r of c.listCronRuns("nightly-ts")) runs.push(r.id);
  assert.deepEqual(runs, [run.id]);
  const ap = await c.applyCronRegistry({ schedules: [{ key: "reg-a", cron: "0 * * * *", job: { queue, type: "a" } }], prune: false });
  assert.deepEqual(ap.created, ["reg-a"]);
  assert.equal(await c.deleteCron("reg-a"), true);
  assert.equal((await rejects(c.getCron("reg-a"))).status, 404);
  const e = await rejects(c.putCron("bad", { cron: "* * * * *", job: { queue, type: "a" }, tz: "UTC" } as never));
  assert.equal(e.code, "unknown_field");
  assert.equal(e.field, "tz");
  const sch = await c.getScheduler();
  assert.equal(typeof sch.epoch, "number");
  assert.ok("heartbeatAt" in sch && "nextDueAt" in sch);
});

test("stats: getStats counts a queue's enqueues in aligned minutes; a bad step is a BatonError", async () => {
  const queue = qname("statsq");
  for (let i = 0; i < 3; i++) await c.enqueue({ queue, type: "t", payload: { i } });
  const s = await c.getStats({ queue, windowMs: 120000 });
  assert.equal(s.queue, queue);
  assert.equal(s.stepMs, 60000);
  assert.equal(s.points.length, 2);
  assert.match(s.from, /:00\.000Z$/);
  assert.equal(s.points.reduce((n, p) => n + p.enqueued, 0), 3);
  assert.ok("sampleMs" in s && "depth" in s.points[0]!);
  assert.equal((await c.getStats()).queue, null);
  const e = await rejects(c.getStats({ stepMs: 1000 }));
  assert.equal(e.status, 400);
  assert.equal(e.code, "step_ms_out_of_range");
  assert.equal(e.field, "step_ms");
});

test("timers: put, move with ifVersion, version_mismatch, get, list, cancel; fired job carries timer", async () => {
  const queue = qname("timerq");
  const t1 = await c.putTimer("draft-7:pick", { queue, type: "autopick", payload: { pick: 1 }, delayMs: 60000, group: "draft-7" });
  assert.equal(t1.version, 1);
  assert.equal(t1.state, "scheduled");
  const t2 = await c.putTimer("draft-7:pick", { queue, type: "autopick", payload: { pick: 2 }, delayMs: 60000, ifVersion: 1 });
  assert.equal(t2.version, 2);
  const e = await rejects(c.putTimer("draft-7:pick", { queue, type: "autopick", delayMs: 1000, ifVersion: 1 }));
  assert.equal(e.status, 409);
  assert.equal(e.code, "version_mismatch");
  assert.equal((await c.getTimer("draft-7:pick")).payload && (await c.getTimer("draft-7:pick")).version, 2);
  await c.putTimer("draft-8:pick", { queue, type: "autopick", fireAt: new Date(Date.now() + 100) });
  const keys: string[] = [];
  for await (const t of c.listTimers({ prefix: "draft-", limit: 1 })) keys.push(t.key);
  assert.deepEqual(keys, ["draft-7:pick", "draft-8:pick"]);
  const cancelled = await c.cancelTimer("draft-7:pick", { ifVersion: 2 });
  assert.equal(cancelled.state, "cancelled");
  let fired: Job | undefined;
  for (let i = 0; i < 100 && !fired; i++) {
    const p = await c.listJobsPage({ queue });
    fired = p.items[0];
    if (!fired) await sleep(50);
  }
  if (!fired) assert.fail("the timer fired a job");
  assert.equal(fired.timer!.key, "draft-8:pick");
  assert.equal(fired.timer!.version, 1);
});

test("flows: createFlow with refs, getFlow, flowJobs; parents reach the claim", async () => {
  const queue = qname("flowq");
  const flow = await c.createFlow([
    { ref: "fixtures", queue, type: "fixtures" },
    { ref: "lineups", queue, type: "lineups", dependsOn: ["fixtures"] },
  ]);
  assert.equal(flow.state, "running");
  assert.deepEqual(flow.jobs.map((j) => [j.ref, j.state]), [["fixtures", "queued"], ["lineups", "pending"]]);
  const [a] = await c.claimJobs(queue, { worker: "wf", max: 5 });
  assert.equal(a!.ref, "fixtures");
  await c.completeJob(a!.id, a!.lease, { rows_read: 3 });
  const [b] = await c.claimJobs(queue, { worker: "wf", max: 5 });
  assert.equal(b!.ref, "lineups");
  assert.deepEqual(b!.parents, [{ id: a!.id, result: { rows_read: 3 } }]);
  await c.completeJob(b!.id, b!.lease);
  assert.equal((await c.getFlow(flow.id)).state, "completed");
  const ids: string[] = [];
  for await (const j of c.flowJobs(flow.id)) ids.push(j.id);
  assert.deepEqual(ids, [a!.id, b!.id]);
  const e = await rejects(c.createFlow([{ ref: "x", queue, type: "t", dependsOn: ["nope"] }]));
  assert.equal(e.code, "unknown_ref");
  assert.equal(e.field, "jobs[0].depends_on[0]");
});

test("keys and audit: create, list, rotate, revoke; audit entries follow the cursor", async () => {
  const k = await c.createKey({ name: "rotate-me", scopes: ["jobs:read", "jobs:write"], expiresAt: new Date(Date.now() + 86400000) });
  assert.match(k.secret, /^bk_/);
  assert.equal(k.key.state, "active");
  assert.ok(k.key.expiresAt);
  const ids: string[] = [];
  for await (const key of c.listKeys({ limit: 1 })) ids.push(key.id);
  assert.ok(ids.includes(k.key.id));
  const all: string[] = [];
  for await (const key of c.listKeys({ tenant: "*" })) all.push(key.tenant);
  assert.ok(all.includes("t2"));
  const r = await c.rotateKey(k.key.id, { graceMs: 0 });
  assert.notEqual(r.secret, k.secret);
  const oldc = new Client({ url: srv.url, key: k.secret });
  assert.equal((await rejects(oldc.listQueuesPage())).status, 401);
  oldc.close();
  const rv = await c.revokeKey(k.key.id);
  assert.equal(rv.state, "revoked");
  assert.equal((await rejects(c.rotateKey(k.key.id))).code, "key_revoked");
  const actions: string[] = [];
  for await (const a of c.listAudit({ limit: 2 })) actions.push(a.action);
  assert.ok(actions.includes("keys.create") && actions.includes("keys.rotate") && actions.includes("keys.revoke"));
  const only: string[] = [];
  for await (const a of c.listAudit({ action: "keys.revoke" })) only.push(a.action);
  assert.ok(only.length >= 1 && only.every((a) => a === "keys.revoke"));
});

test("workers registry, health, ready, metrics text", async () => {
  const queue = qname("reg");
  await c.enqueue({ queue, type: "t" });
  await c.claimJobs(queue, { worker: "w-reg-1", max: 1, info: { host: "box-7", pid: 42, labels: { zone_name: "eu-1" } } });
  const w = await c.getWorker("w-reg-1");
  assert.deepEqual(w.info, { host: "box-7", pid: 42, labels: { zone_name: "eu-1" } });
  assert.deepEqual(w.queues, [queue]);
  assert.equal(w.inFlight.length, 1);
  assert.equal(w.health, "healthy");
  const ids: string[] = [];
  for await (const x of c.listWorkers({ limit: 1 })) ids.push(x.id);
  assert.ok(ids.includes("w-reg-1"));
  assert.deepEqual(await c.health(), { status: "ok" });
  assert.equal((await c.ready()).status, "ready");
  const m = await c.metrics();
  assert.equal(typeof m, "string");
  assert.match(m, /^# (HELP|TYPE) baton_/m);
});
