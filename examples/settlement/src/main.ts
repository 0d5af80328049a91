/*
 * main.ts: baton's settlement example (seeds 000 and 001: a fantasy sports
 * platform that moves its cron, match verification and scoreboard settlement
 * onto a queue), run against a batond.
 *
 *   BATON_URL=http://127.0.0.1:7700 BATON_KEY=bk_... npm start
 *
 * What it does, each result printed as a checked claim (PASS/FAIL with the
 * figures); the process exits 1 when any claim fails, 2 on an unexpected error:
 *   1. stores the cron schedule "*\/5 * * * *" (PUT /v1/cron/stl-verify-matches)
 *      and checks its next_fire_at against the preview and an own computation;
 *      the schedule is then paused, and each simulated 5-minute window is
 *      triggered with run-now (POST /v1/cron/{key}/run, payload {window}), so
 *      the example does not wait 5 minutes a window;
 *   2. the verifier (a Worker on stl-verify, here) compares each match's
 *      previous status (kept in the ledger) with the feed's current one and, on
 *      previous != ended && current == ended, enqueues one settlement with
 *      idempotency_key settlement:{matchId}:{statusTimestamp}; window 4 is
 *      verified twice, and the second run's enqueues are answered duplicate;
 *   3. settlement workers, two child processes each with a baton-client Worker
 *      of concurrency 2, apply the per-player deltas of each match to the SQLite
 *      ledger in one transaction with an exactly-once marker (ledger.ts), while
 *      duplicate deliveries are injected: a throw after the commit (baton
 *      retries), a process SIGKILLed by main.ts after the commit (the lease runs
 *      out, baton redelivers), a process SIGKILLed inside the transaction, an
 *      unrecoverable error after the commit then a replay from the dead
 *      letters, a second job without the idempotency key, a repeat with it, a
 *      forged result and a key reused with another payload;
 *   4. checks the ledger against an independent computation per player, and
 *      batond's jobs: one job per match under its key, completed, exactly one
 *      delivery applied per match;
 *   5. the ranking (points desc, then exact-score hits desc, then player id
 *      asc) from the ledger against an independent sort; the top 10 printed.
 *
 * Assumptions: the key is an admin key; the example owns the schedule
 * stl-verify-matches and the queues stl-verify and stl-settle (it drains them
 * first and deletes the schedule at the end); its jobs carry the run's tag in
 * their payload, which the checks filter on. SETTLE_SHORT=1: 5,000 players
 * instead of 50,000 (run_tests.sh). SETTLE_SABOTAGE=1: the ledger without its
 * marker, which must make the checks fail. SETTLE_LEDGER: the ledger file
 * (default ./ledger.sqlite, recreated at each run). SETTLE_SEED: the seed (570).
 */
import { fork, ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BatonError, Client, UnrecoverableError, Worker } from "baton-client";
import type { ClaimedJob, Job } from "baton-client";
import { allClaims, beginSection, claim, info } from "./checks.js";
import {
  MATCH_IDS, Standing, TIMELINES, WINDOWS, WINDOW_S, endedMatches, expectedStandings, feedAt, guessOf, rankCompare,
  resultHash, scoreGuess, settlementKey,
} from "./domain.js";
import {
  DB, getMeta, initLedger, openLedger, previousObservations, readDeliveries, readFaults, readMarkers, readRanking,
  readStandings, recordVerification, setMeta,
} from "./ledger.js";
import type { ChildMessage, Faults, SettlePayload, SettleResult } from "./settle-worker.js";

const url = process.env.BATON_URL ?? "http://127.0.0.1:7700";
const key = process.env.BATON_KEY;
const SHORT = process.env.SETTLE_SHORT === "1" || process.argv.includes("--short");
const SABOTAGE = process.env.SETTLE_SABOTAGE === "1";
const PLAYERS = Number(process.env.SETTLE_PLAYERS ?? (SHORT ? 5000 : 50000));
const SEED = Number(process.env.SETTLE_SEED ?? 570);
const LEDGER = resolve(process.env.SETTLE_LEDGER ?? "ledger.sqlite");
const RUN_TAG = Date.now().toString(36);
const T0 = Math.floor(Date.now() / 1000) - WINDOWS * WINDOW_S; // window w is observed at T0 + w * 300 s
const CRON_KEY = "stl-verify-matches";
const Q_VERIFY = "stl-verify";
const Q_SETTLE = "stl-settle";
const RERUN_WINDOW = 4;
// The two faults that kill a worker process are put on matches that end alone in
// their window (m103, m106), so no other job is in flight in the process killed.
const FAULTS: Faults = { throwAfterCommit: "m101", holdAfterCommit: "m103", deadAfterCommit: "m104", crashMidTx: "m106" };
const REENQUEUE_MATCH = "m105";
const FORGED_MATCH = "m102";

const client = new Client({ url, key });
const t0 = performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const since = () => Math.round(performance.now() - t0);
const fmt = (n: number) => n.toLocaleString("en-US");

/** The settlement job's options: a short lease so a lost worker is noticed in seconds. */
const SETTLE_JOB = { maxAttempts: 5, backoff: { type: "fixed" as const, baseMs: 300, maxMs: 300 }, leaseMs: 4000 };

// ---------------------------------------------------------------------------
// The settlement worker processes
// ---------------------------------------------------------------------------

interface ChildInfo { name: string; proc: ChildProcess; pid: number; exit: { code: number | null; signal: string | null } | null }

class WorkerPool {
  readonly children: ChildInfo[] = [];
  readonly killedByMain: { pid: number; matchId: string; jobId: string }[] = [];
  readonly deliveries: ChildMessage[] = [];
  private closing = false;
  private next = 1;
  private readonly script = fileURLToPath(new URL("./settle-worker.js", import.meta.url));

  async start(n: number): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) ready.push(this.spawn());
    await Promise.all(ready);
  }

  spawn(): Promise<void> {
    const name = `w${this.next++}`;
    const proc = fork(this.script, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, BATON_URL: url, BATON_KEY: key ?? "", SETTLE_LEDGER: LEDGER, SETTLE_WORKER: name,
             SETTLE_SABOTAGE: SABOTAGE ? "1" : "0", SETTLE_FAULTS: JSON.stringify(FAULTS) },
    });
    const c: ChildInfo = { name, proc, pid: proc.pid ?? -1, exit: null };
    this.children.push(c);
    let readyResolve: () => void = () => undefined;
    const ready = new Promise<void>((r) => (readyResolve = r));
    const timer = setTimeout(() => readyResolve(), 20000);
    proc.on("message", (m: ChildMessage) => {
      if (m.type === "ready") { clearTimeout(timer); info(`  settlement worker ${name} started (pid ${m.pid}, Worker concurrency 2)`); readyResolve(); }
      if (m.type === "delivery") {
        this.deliveries.push(m);
        info(`  [${m.worker} pid ${m.pid}] job ${m.jobId} attempt ${m.attempt} ${m.matchId}: ${m.outcome} (${m.detail})`);
      }
      if (m.type === "hold") {
        info(`  [${m.worker} pid ${m.pid}] job ${m.jobId} ${m.matchId}: committed, job not settled yet; main kills the process now (SIGKILL)`);
        this.killedByMain.push({ pid: m.pid, matchId: m.matchId, jobId: m.jobId });
        proc.kill("SIGKILL");
      }
    });
    proc.on("exit", (code, signal) => {
      c.exit = { code, signal };
      if (this.closing) return;
      info(`  settlement worker ${name} (pid ${c.pid}) exited: ${signal ?? `code ${code}`}; starting a replacement`);
      if (this.next <= 8) void this.spawn();
    });
    return ready;
  }

  alive(): ChildInfo[] {
    return this.children.filter((c) => c.exit === null);
  }

  async close(): Promise<void> {
    this.closing = true;
    const live = this.alive();
    for (const c of live) if (c.proc.connected) c.proc.send("close");
    const deadline = Date.now() + 10000;
    while (this.alive().length > 0 && Date.now() < deadline) await sleep(50);
    for (const c of this.alive()) c.proc.kill("SIGKILL");
  }
}

// ---------------------------------------------------------------------------
// The verifier
// ---------------------------------------------------------------------------

interface Decision {
  matchId: string;
  previous: string;
  current: string;
  decision: "settle" | "noop";
  key?: string;
  job?: string;
  duplicate?: boolean;
}

interface VerifyResult { window: number; settle: string[]; created: number; duplicate: number; noop: number; decisions: Decision[] }

function makeVerifier(db: DB): Worker<unknown, VerifyResult> {
  return new Worker<unknown, VerifyResult>({
    client, queue: Q_VERIFY, concurrency: 1, waitMs: 1000, workerId: `stl-verifier-${RUN_TAG}`, labels: { role: "verifier" },
    handler: async (job: ClaimedJob<unknown, VerifyResult>): Promise<VerifyResult> => {
      const p = (job.payload ?? {}) as { window?: number; run?: string };
      // A real tick carries no window: it verifies the feed as it is now (the simulation's current window).
      const w = typeof p.window === "number" ? p.window : Number(getMeta(db, "window") ?? "1");
      const seed = Number(getMeta(db, "seed")), t0 = Number(getMeta(db, "t0")), run = getMeta(db, "run")!;
      if (p.run !== run) throw new UnrecoverableError(`verification of run ${p.run}, not of this ledger's run ${run}`);
      const feed = feedAt(seed, t0, w);
      const prev = previousObservations(db, w);
      const decisions: Decision[] = [];
      for (const m of feed) {
        const previous = prev.get(m.matchId)?.status ?? "none";
        if (previous !== "ended" && m.status === "ended") {
          const k = settlementKey(m.matchId, m.statusTs!);
          const payload: SettlePayload = { run, matchId: m.matchId, statusTs: m.statusTs!, score: m.score!,
                                           resultHash: resultHash(m.matchId, m.statusTs!, m.score!) };
          const e = await client.enqueue({ queue: Q_SETTLE, type: "settle_match", payload, idempotencyKey: k,
                                           executionId: `verify-${job.id}`, group: m.matchId, ...SETTLE_JOB });
          decisions.push({ matchId: m.matchId, previous, current: m.status, decision: "settle", key: k, job: e.id, duplicate: e.duplicate === true });
        } else {
          decisions.push({ matchId: m.matchId, previous, current: m.status, decision: "noop" });
        }
      }
      recordVerification(db, w, job.id, job.cron?.run ?? null, feed, decisions);
      const settle = decisions.filter((d) => d.decision === "settle");
      return { window: w, settle: settle.map((d) => d.matchId), created: settle.filter((d) => !d.duplicate).length,
               duplicate: settle.filter((d) => d.duplicate).length, noop: decisions.length - settle.length, decisions };
    },
  });
}

/** Triggers a run of the schedule now; waits out a going run (409 already_running), bounded. */
async function runNow(window: number) {
  for (let i = 0; i < 40; i++) {
    try {
      return await client.runCron(CRON_KEY, { payload: { window } });
    } catch (e) {
      if (e instanceof BatonError && e.code === "already_running" && e.jobId) {
        await client.waitJob(e.jobId, { timeoutMs: 20000 }).catch(() => undefined);
        continue;
      }
      throw e;
    }
  }
  throw new Error("the schedule stayed busy");
}

async function runJobs(): Promise<Job<SettlePayload, SettleResult>[]> {
  const out: Job<SettlePayload, SettleResult>[] = [];
  for await (const j of client.listJobs<SettlePayload, SettleResult>({ queue: Q_SETTLE, limit: 500 }))
    if (j.payload && j.payload.run === RUN_TAG) out.push(j);
  return out;
}

async function settleJobCount(): Promise<number> {
  return (await runJobs()).length;
}

const TERMINAL = new Set(["completed", "dead", "cancelled"]);

async function waitAll(ids: string[], timeoutMs = 40000): Promise<Job<SettlePayload, SettleResult>[]> {
  return Promise.all(ids.map((id) => client.waitJob<SettlePayload, SettleResult>(id, { timeoutMs })));
}

function attemptsLine(j: Job): string {
  return j.attempts.map((a) => `#${a.attempt} ${a.outcome ?? "open"}${a.error ? ` "${a.error.slice(0, 60)}"` : ""}`).join(", ");
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const limitS = SHORT ? 150 : 600;
  const guard = setTimeout(() => { console.error(`settlement: gave up after ${limitS} s`); process.exit(2); }, limitS * 1000);
  guard.unref();
  console.log(`settlement example against ${url}: ${fmt(PLAYERS)} players, seed ${SEED}, ${WINDOWS} windows` +
    `${SHORT ? " (short run)" : ""}${SABOTAGE ? " [SABOTAGE: the ledger keeps no exactly-once marker]" : ""}`);
  console.log(`ledger ${LEDGER}`);

  // A fresh ledger, seeded with the players and their guesses.
  for (const f of [LEDGER, `${LEDGER}-wal`, `${LEDGER}-shm`]) if (existsSync(f)) rmSync(f);
  const db = openLedger(LEDGER);
  const tSeed = performance.now();
  const guesses = initLedger(db, { seed: String(SEED), t0: String(T0), run: RUN_TAG, players: String(PLAYERS), window: "0" },
    PLAYERS, MATCH_IDS, (p, m) => guessOf(SEED, p, m));
  console.log(`seeded ${fmt(PLAYERS)} players and ${fmt(guesses)} guesses for ${MATCH_IDS.length} matches in ${Math.round(performance.now() - tSeed)} ms`);

  // What was the example's on this server before: its schedule and queued jobs.
  await client.deleteCron(CRON_KEY).catch(() => false);
  for (const q of [Q_VERIFY, Q_SETTLE]) await client.drainQueue(q).catch(() => undefined);

  const pool = new WorkerPool();
  let verifier: Worker<unknown, VerifyResult> | null = null;
  let verifierRun: Promise<void> | null = null;
  try {
    // -----------------------------------------------------------------------
    beginSection("1. the cron schedule: match verification every 5 minutes");
    const put = await client.putCron(CRON_KEY, {
      cron: "*/5 * * * *", timezone: "UTC", overlap: "skip", misfire: "skip",
      owner: "scoreboard", description: "Match update verifier: enqueue a verification of the round's matches",
      job: { queue: Q_VERIFY, type: "verify_matches", payload: { run: RUN_TAG }, maxAttempts: 3,
             backoff: { type: "fixed", baseMs: 500, maxMs: 500 } },
    });
    const s = put.schedule;
    const pv = await client.previewCron({ cron: s.cron, timezone: s.timezone, count: 3, from: s.updatedAt });
    info(`${CRON_KEY}  "${s.cron}" ${s.timezone}: ${pv.description}; job ${s.job.queue}/${s.job.type}, overlap ${s.overlap}, misfire ${s.misfire}`);
    info(`next_fire_at ${s.nextFireAt}; preview from the save (${s.updatedAt}): ${pv.fires.join(", ")}`);
    const from = Date.parse(s.updatedAt);
    const own = [1, 2, 3].map((k) => new Date((Math.floor(from / 300000) + k) * 300000).toISOString());
    claim("the stored next_fire_at is the preview's first fire from the save",
      s.nextFireAt !== null && s.nextFireAt === pv.fires[0], `next_fire_at ${s.nextFireAt}`);
    claim("the preview's fires are the next multiples of 5 minutes after the save (computed here)",
      pv.fires.length === 3 && pv.fires.every((f, i) => Date.parse(f) === Date.parse(own[i]!)) && pv.minIntervalMs === 300000,
      `expected ${own.join(", ")}; min_interval_ms ${pv.minIntervalMs}`);
    const sch = await client.getScheduler();
    info(`scheduler: node ${sch.node}, role ${sch.role}, leader ${sch.leader}, heartbeat ${sch.heartbeatAgeMs} ms ago, ` +
      `lease until ${sch.leaseUntil}, next_due_at ${sch.nextDueAt}, ${sch.schedules} schedule(s)`);
    claim("the scheduler is alive: a leader holds the lease and its heartbeat is fresh (younger than the lease it renews)",
      sch.leader !== null && sch.heartbeatAgeMs !== null && sch.leaseUntil !== null && sch.heartbeatAt !== null &&
        sch.heartbeatAgeMs < Date.parse(sch.leaseUntil) - Date.parse(sch.heartbeatAt),
      `leader ${sch.leader}, heartbeat_age_ms ${sch.heartbeatAgeMs}`);
    const paused = await client.pauseCron(CRON_KEY, "the example triggers its simulated 5-minute windows with run-now");
    claim("paused for the simulation: next_fire_at null, the windows come from run-now only",
      paused.paused && paused.nextFireAt === null, `paused ${paused.paused}, next_fire_at ${paused.nextFireAt}`);

    // -----------------------------------------------------------------------
    beginSection("2. windows: verify, enqueue settlements, settle (faults injected)");
    await pool.start(2);
    verifier = makeVerifier(db);
    verifier.on("error", (e) => console.error("verifier:", e instanceof Error ? e.message : e));
    verifierRun = verifier.run();
    info(`faults: ${Object.entries(FAULTS).map(([k, v]) => `${v} ${k}`).join(", ")}`);

    const firstRunOf = new Map<number, VerifyResult>();
    const runIds: string[] = [];
    for (let w = 1; w <= WINDOWS; w++) {
      setMeta(db, "window", String(w));
      const run = await runNow(w);
      runIds.push(run.id);
      const vj = await client.waitJob<unknown, VerifyResult>(run.jobId!, { timeoutMs: 30000 });
      const r = vj.result;
      const at = new Date((T0 + w * WINDOW_S) * 1000).toISOString().slice(11, 19);
      if (vj.state !== "completed" || r === null) {
        claim(`window ${w}: the verification job completed`, false, `${vj.state}: ${vj.lastError}`);
        continue;
      }
      firstRunOf.set(w, r);
      info(`window ${w} (feed at ${at}Z), cron run ${run.id} (trigger ${run.trigger}), job ${vj.id}: ` +
        r.decisions.map((d) => `${d.matchId} ${d.previous}->${d.current}${d.decision === "settle" ? ` SETTLE job ${d.job}${d.duplicate ? " (duplicate)" : ""}` : ""}`).join(", "));
      const want = TIMELINES.filter((t) => t.ends === w).map((t) => t.matchId);
      claim(`window ${w}: settlements enqueued for exactly the matches that ended since window ${w - 1}`,
        r.settle.join(",") === want.join(",") && r.created === want.length && r.duplicate === 0,
        `enqueued [${r.settle.join(", ")}], ${r.created} new; expected [${want.join(", ")}]`);
      const ids = r.decisions.filter((d) => d.decision === "settle").map((d) => d.job!);
      const done = await waitAll(ids);
      for (const j of done) info(`  job ${j.id} ${j.payload.matchId}: ${j.state}; attempts ${attemptsLine(j)}`);

      if (w === RERUN_WINDOW) {
        const before = await settleJobCount();
        const again = await runNow(w);
        runIds.push(again.id);
        const vj2 = await client.waitJob<unknown, VerifyResult>(again.jobId!, { timeoutMs: 30000 });
        const r2 = vj2.result;
        const after = await settleJobCount();
        info(`window ${w} verified again (cron run ${again.id}, job ${vj2.id}): ` +
          (r2?.decisions.filter((d) => d.decision === "settle").map((d) => `${d.matchId} job ${d.job}${d.duplicate ? " duplicate" : " NEW"}`).join(", ") ?? vj2.state));
        const sameJobs = r2 !== null && r2.decisions.filter((d) => d.decision === "settle").every((d) =>
          d.duplicate === true && r.decisions.find((x) => x.matchId === d.matchId)?.job === d.job);
        claim(`window ${w} verified twice: the second run's enqueues were all answered duplicate, with the first run's jobs`,
          r2 !== null && r2.settle.join(",") === r.settle.join(",") && r2.duplicate === r.settle.length && r2.created === 0 && sameJobs,
          `${r2?.duplicate} duplicate, ${r2?.created} new`);
        claim(`window ${w} verified twice: no new settlement job on the server`, before === after, `settlement jobs before ${before}, after ${after}`);
      }
    }

    // -----------------------------------------------------------------------
    beginSection("3. more duplicate deliveries, on purpose");
    const ended = endedMatches(SEED, T0);
    const byMatch = new Map(ended.map((m) => [m.matchId, m]));
    const jobOfKey = async (m: string) => {
      const e = byMatch.get(m)!;
      const page = await client.listJobsPage<SettlePayload, SettleResult>({ idempotencyKey: settlementKey(m, e.statusTs), limit: 10 });
      return page.items;
    };
    // (a) the dead letter of m104 (committed, then unrecoverable), replayed.
    {
      const [dj] = await jobOfKey(FAULTS.deadAfterCommit!);
      info(`${FAULTS.deadAfterCommit} job ${dj?.id}: ${dj?.state} after ${dj?.attempts.length} attempt(s), last_error "${dj?.lastError}"`);
      const deadList: string[] = [];
      for await (const j of client.listDeadJobs<SettlePayload>(Q_SETTLE)) if (j.payload?.run === RUN_TAG) deadList.push(j.id);
      claim(`${FAULTS.deadAfterCommit}: the job went dead (an unrecoverable error right after the ledger committed) and sits in the dead letters`,
        dj !== undefined && dj.state === "dead" && deadList.includes(dj.id) && readMarkers(db).some((mk) => mk.matchId === FAULTS.deadAfterCommit),
        `dead letters of this run: [${deadList.join(", ")}]`);
      if (dj) {
        const n = await client.replayDeadJobs(Q_SETTLE, { ids: [dj.id] });
        const rj = await client.waitJob<SettlePayload, SettleResult>(dj.id, { timeoutMs: 30000 });
        info(`replayed ${n} dead job(s): job ${rj.id} ${rj.state}, result ${JSON.stringify(rj.result)}`);
      }
    }
    // (b) m105 enqueued again: once with its idempotency key, once without.
    {
      const e = byMatch.get(REENQUEUE_MATCH)!;
      const payload: SettlePayload = { run: RUN_TAG, matchId: e.matchId, statusTs: e.statusTs, score: e.score,
                                       resultHash: resultHash(e.matchId, e.statusTs, e.score) };
      const [orig] = await jobOfKey(REENQUEUE_MATCH);
      const before = await settleJobCount();
      const dup = await client.enqueue({ queue: Q_SETTLE, type: "settle_match", payload, idempotencyKey: settlementKey(e.matchId, e.statusTs), ...SETTLE_JOB });
      const mid = await settleJobCount();
      claim(`${REENQUEUE_MATCH} enqueued again with its idempotency key: answered duplicate, the same job, nothing created`,
        dup.duplicate === true && dup.id === orig?.id && mid === before, `job ${dup.id} (original ${orig?.id}), duplicate ${dup.duplicate}, jobs ${before} -> ${mid}`);
      const manual = await client.enqueue({ queue: Q_SETTLE, type: "settle_match", payload, executionId: "manual-reenqueue", ...SETTLE_JOB });
      const mj = await client.waitJob<SettlePayload, SettleResult>(manual.id, { timeoutMs: 30000 });
      info(`${REENQUEUE_MATCH} enqueued again without the key: new job ${mj.id}, ${mj.state}, result ${JSON.stringify(mj.result)}`);
    }
    // (c) a forged result for m102 under the same (match, status timestamp): the ledger refuses it.
    {
      const e = byMatch.get(FORGED_MATCH)!;
      const forged = { home: e.score.home + 1, away: e.score.away };
      const payload: SettlePayload = { run: RUN_TAG, matchId: e.matchId, statusTs: e.statusTs, score: forged,
                                       resultHash: resultHash(e.matchId, e.statusTs, forged) };
      let conflict: BatonError | null = null;
      try {
        await client.enqueue({ queue: Q_SETTLE, type: "settle_match", payload, idempotencyKey: settlementKey(e.matchId, e.statusTs), ...SETTLE_JOB });
      } catch (err) {
        if (!(err instanceof BatonError)) throw err;
        conflict = err;
      }
      claim(`${FORGED_MATCH}: its idempotency key with another payload (a changed score) is refused by baton, 409 idempotency_conflict`,
        conflict !== null && conflict.status === 409 && conflict.code === "idempotency_conflict", conflict ? `${conflict.status} ${conflict.code}` : "accepted");
      const fj = await client.enqueue({ queue: Q_SETTLE, type: "settle_match", payload, executionId: "forged", ...SETTLE_JOB });
      const fd = await client.waitJob<SettlePayload, SettleResult>(fj.id, { timeoutMs: 30000 });
      info(`${FORGED_MATCH} forged ${forged.home}-${forged.away} without the key: job ${fd.id} ${fd.state}, last_error ${fd.lastError === null ? "null" : `"${fd.lastError.slice(0, 120)}"`}`);
      claim(`${FORGED_MATCH}: the same settlement with another result (no key) is refused by the ledger's result hash: dead, unrecoverable, after 1 attempt`,
        fd.state === "dead" && fd.attempts.length === 1 && (fd.lastError ?? "").includes("ledger conflict"), `${fd.state}, ${fd.attempts.length} attempt(s)`);
    }

    // -----------------------------------------------------------------------
    beginSection("4. exactly once: the ledger and batond");
    const jobs = await runJobs();
    const open = jobs.filter((j) => !TERMINAL.has(j.state));
    if (open.length > 0) await waitAll(open.map((j) => j.id));
    const all = await runJobs();
    const standings = readStandings(db);
    const expected = expectedStandings(SEED, PLAYERS, ended);
    let bad = 0;
    let firstBad = "";
    for (let i = 0; i < PLAYERS; i++) {
      const a = standings[i], b = expected[i]!;
      const same = a !== undefined && a.player === b.player && a.points === b.points && a.exact === b.exact && a.outcome === b.outcome && a.matches === b.matches;
      if (!same) {
        bad++;
        if (firstBad === "") firstBad = `player ${b.player}: ledger ${a?.points} pts/${a?.exact} exact/${a?.matches} matches, expected ${b.points}/${b.exact}/${b.matches}`;
      }
    }
    const sum = (xs: Standing[], f: (s: Standing) => number) => xs.reduce((t, s) => t + f(s), 0);
    claim(`every one of the ${fmt(PLAYERS)} players' points, exact hits, outcome hits and settled matches equals the independent computation`,
      standings.length === PLAYERS && bad === 0,
      `${fmt(bad)} players differ${firstBad ? ` (first: ${firstBad})` : ""}; ledger total ${fmt(sum(standings, (x) => x.points))} points, expected ${fmt(sum(expected, (x) => x.points))}`);

    const markers = readMarkers(db);
    const wantMarkers = ended.map((m) => `${m.matchId}@${m.statusTs}`).sort().join(",");
    claim(`the ledger holds exactly one settlement marker per ended match (${ended.length}), none for m107 (live) and m108 (postponed)`,
      markers.map((m) => `${m.matchId}@${m.statusTs}`).sort().join(",") === wantMarkers &&
        markers.every((m) => m.key === settlementKey(m.matchId, m.statusTs)),
      `${markers.length} markers: ${markers.map((m) => m.matchId).join(", ")}`);
    const perMatchPoints = ended.map((m) => {
      let pts = 0;
      for (let p = 1; p <= PLAYERS; p++) { const g = guessOf(SEED, p, m.matchId); if (g) pts += scoreGuess(g, m.score).points; }
      return { matchId: m.matchId, pts };
    });
    claim("each marker's points total equals that match's points computed here from the guesses",
      perMatchPoints.every((x) => markers.find((m) => m.matchId === x.matchId)?.pointsTotal === x.pts),
      perMatchPoints.map((x) => `${x.matchId} ${fmt(x.pts)}`).join(", "));

    const deliveries = readDeliveries(db);
    const faults = readFaults(db);
    info(`ledger deliveries: ${MATCH_IDS.map((m) => {
      const ds = deliveries.filter((d) => d.matchId === m);
      return ds.length ? `${m} ${ds.map((d) => d.outcome).join("/")}` : "";
    }).filter((x) => x).join("; ")}`);
    info(`faults fired: ${faults.map((f) => `${f.name} (${f.matchId}, job ${f.jobId} attempt ${f.attempt}, pid ${f.pid})`).join("; ")}`);
    claim("every injected fault fired once: throw after commit, SIGKILL after commit, SIGKILL inside the transaction, dead after commit",
      ["throwAfterCommit", "holdAfterCommit", "crashMidTx", "deadAfterCommit"].every((n) => faults.some((f) => f.name === n && f.matchId === (FAULTS as Record<string, string>)[n])),
      faults.map((f) => f.name).join(", "));
    const redelivered = [FAULTS.throwAfterCommit!, FAULTS.holdAfterCommit!, FAULTS.deadAfterCommit!, REENQUEUE_MATCH];
    claim(`duplicate deliveries reached the ledger: ${redelivered.join(", ")} were each delivered after their settlement had committed`,
      redelivered.every((m) => deliveries.filter((d) => d.matchId === m).length >= 2),
      redelivered.map((m) => `${m}: ${deliveries.filter((d) => d.matchId === m).length} deliveries`).join(", "));
    claim("the ledger applied exactly one delivery per ended match; every other delivery was skipped (or refused as a conflict)",
      ended.every((m) => deliveries.filter((d) => d.matchId === m.matchId && d.outcome === "applied").length === 1) &&
        deliveries.every((d) => byMatch.has(d.matchId)),
      ended.map((m) => `${m.matchId} ${deliveries.filter((d) => d.matchId === m.matchId && d.outcome === "applied").length}`).join(", "));

    // batond's side: one job per match under its key, completed; one 'applied' result per match.
    const lines: string[] = [];
    let keyed = true;
    for (const m of ended) {
      const ks = await jobOfKey(m.matchId);
      const mine = all.filter((j) => j.payload.matchId === m.matchId);
      lines.push(`${m.matchId}: key job ${ks.map((j) => `${j.id} ${j.state} (${j.result?.outcome ?? "no result"})`).join(", ")}` +
        `${mine.length > 1 ? `; other jobs ${mine.filter((j) => j.idempotencyKey === null).map((j) => `${j.id} ${j.state}${j.result ? ` (${j.result.outcome})` : ""}`).join(", ")}` : ""}`);
      keyed &&= ks.length === 1 && ks[0]!.state === "completed";
    }
    for (const l of lines) info(l);
    info(`enqueue to completion: ${ended.map((m) => {
      const j = all.find((x) => x.payload.matchId === m.matchId && x.idempotencyKey !== null);
      return j ? `${m.matchId} ${Date.parse(j.finishedAt ?? "") - Date.parse(j.createdAt)} ms` : `${m.matchId} ?`;
    }).join(", ")} (the redelivered ones include a lost lease of 4 s or a retry's backoff, m104 its replay)`);
    claim("batond: each ended match has exactly one job under its key settlement:{matchId}:{statusTimestamp}, and it completed",
      keyed, `${ended.length} matches`);
    // Each completed job's result must name the delivery the ledger's marker records.
    const agree = (j: Job<SettlePayload, SettleResult>): boolean => {
      const mk = markers.find((m) => m.matchId === j.payload.matchId && m.statusTs === j.payload.statusTs);
      const done = j.attempts.filter((a) => a.outcome === "completed");
      if (mk === undefined || j.result === null || done.length !== 1) return false;
      return j.result.outcome === "applied"
        ? mk.jobId === j.id && mk.attempt === done[0]!.attempt
        : j.result.appliedBy?.jobId === mk.jobId && j.result.appliedBy?.attempt === mk.attempt;
    };
    const completed = all.filter((j) => j.state === "completed");
    claim("batond: every settlement job of the run completed with exactly one completed attempt, its result agreeing with the ledger's marker " +
      "(\"applied\" by that attempt, or \"skipped\" naming the job and attempt the marker holds); only the forged one is dead",
      completed.length === all.length - 1 && completed.every(agree) && all.filter((j) => j.state === "dead").every((j) => j.executionId === "forged"),
      `${all.length} settlement jobs: ${completed.length} completed (${completed.filter((j) => j.result?.outcome === "applied").length} applied, ` +
        `${completed.filter((j) => j.result?.outcome === "skipped").length} skipped), ${all.filter((j) => j.state === "dead").length} dead; ` +
        `disagreeing: [${completed.filter((j) => !agree(j)).map((j) => j.id).join(", ")}]`);
    const attemptsOf = async (m: string) => (await jobOfKey(m))[0];
    {
      const j1 = await attemptsOf(FAULTS.throwAfterCommit!);
      claim(`${FAULTS.throwAfterCommit}: baton retried the attempt that threw after the commit; the retry found the marker`,
        j1 !== undefined && j1.state === "completed" && j1.attempts.some((a) => a.outcome === "failed" && (a.error ?? "").includes("projection refresh failed")) &&
          j1.result?.outcome === "skipped", j1 ? `attempts ${attemptsLine(j1)}; result ${j1.result?.outcome}` : "no job");
      const j2 = await attemptsOf(FAULTS.holdAfterCommit!);
      const killed = pool.killedByMain.find((k) => k.matchId === FAULTS.holdAfterCommit);
      const killedChild = pool.children.find((c) => c.pid === killed?.pid);
      claim(`${FAULTS.holdAfterCommit}: its worker process was SIGKILLed after the commit; the lease ran out and the redelivery found the marker`,
        j2 !== undefined && killedChild?.exit?.signal === "SIGKILL" && j2.state === "completed" &&
          j2.attempts.some((a) => a.outcome === "lease_expired") && j2.result?.outcome === "skipped",
        j2 ? `pid ${killed?.pid} exit ${killedChild?.exit?.signal}; attempts ${attemptsLine(j2)}; result ${j2.result?.outcome}` : "no job");
      const j3 = await attemptsOf(FAULTS.crashMidTx!);
      const crash = faults.find((f) => f.name === "crashMidTx");
      const crashed = pool.children.find((c) => c.pid === crash?.pid);
      claim(`${FAULTS.crashMidTx}: its worker process died (SIGKILL) inside the ledger transaction; nothing of it stayed, the redelivery applied it whole`,
        j3 !== undefined && crashed?.exit?.signal === "SIGKILL" && j3.state === "completed" && j3.attempts.some((a) => a.outcome === "lease_expired") &&
          j3.result?.outcome === "applied" && j3.result.players === markers.find((m) => m.matchId === FAULTS.crashMidTx)?.players,
        j3 ? `pid ${crash?.pid} exit ${crashed?.exit?.signal}; attempts ${attemptsLine(j3)}; result ${j3.result?.outcome}, ${j3.result?.players} players` : "no job");
      const j4 = await attemptsOf(FAULTS.deadAfterCommit!);
      claim(`${FAULTS.deadAfterCommit}: replayed from the dead letters, it completed and changed nothing ("skipped")`,
        j4 !== undefined && j4.state === "completed" && j4.attempts.some((a) => a.outcome === "failed" && (a.error ?? "").includes("dead letter")) &&
          j4.result?.outcome === "skipped", j4 ? `attempts ${attemptsLine(j4)}; result ${j4.result?.outcome}` : "no job");
      const manual = all.filter((j) => j.payload.matchId === REENQUEUE_MATCH && j.idempotencyKey === null);
      claim(`${REENQUEUE_MATCH}: the job enqueued without the key completed as "skipped"`,
        manual.length === 1 && manual[0]!.state === "completed" && manual[0]!.result?.outcome === "skipped",
        manual.map((j) => `job ${j.id} ${j.state} ${j.result?.outcome}`).join(", "));
    }
    const workersSeen = new Set(deliveries.map((d) => d.worker));
    claim("settlements were handled by at least 2 worker processes (baton-client Workers, concurrency 2 each)",
      workersSeen.size >= 2, `${workersSeen.size} workers: ${[...workersSeen].join(", ")}`);

    const runs = await client.listCronRunsPage(CRON_KEY, { limit: 50 });
    const mine = runs.items.filter((r) => runIds.includes(r.id));
    info(`cron runs: ${runs.items.slice().reverse().map((r) => `${r.id} ${r.trigger} ${JSON.stringify(r.payload)} ${r.status}`).join("; ")}`);
    claim(`the schedule's run history holds the ${runIds.length} run-now runs (${WINDOWS} windows, window ${RERUN_WINDOW} twice), all completed`,
      mine.length === runIds.length && mine.every((r) => r.trigger === "manual" && r.status === "completed" && r.summary !== null),
      `${mine.length} of ${runIds.length}: ${mine.map((r) => r.status).join(", ")}`);

    // -----------------------------------------------------------------------
    beginSection("5. the ranking: points desc, then exact-score hits desc, then player id asc");
    const want = expected.slice().sort(rankCompare);
    const got = readRanking(db, PLAYERS);
    const top = got.slice(0, 10);
    info("rank  player  points  exact  outcome  matches");
    top.forEach((r, i) => {
      const nextTie = i > 0 && top[i - 1]!.points === r.points
        ? (top[i - 1]!.exact !== r.exact ? "  <- same points, fewer exact hits" : "  <- same points and exact hits, higher id") : "";
      info(`${String(i + 1).padStart(4)}  ${String(r.player).padStart(6)}  ${String(r.points).padStart(6)}  ${String(r.exact).padStart(5)}  ${String(r.outcome).padStart(7)}  ${String(r.matches).padStart(7)}${nextTie}`);
    });
    const eq = (a: Standing | undefined, b: Standing | undefined) => a !== undefined && b !== undefined && a.player === b.player && a.points === b.points && a.exact === b.exact;
    claim("the top 10 from the ledger (SQL ORDER BY) equals the top 10 of an independent sort of the expected standings",
      top.length === 10 && top.every((r, i) => eq(r, want[i])), `expected ${want.slice(0, 10).map((r) => `${r.player}:${r.points}`).join(" ")}`);
    let firstDiff = -1;
    for (let i = 0; i < PLAYERS && firstDiff < 0; i++) if (!eq(got[i], want[i])) firstDiff = i;
    claim(`the whole ranking (${fmt(PLAYERS)} places) equals the independent one`, got.length === PLAYERS && firstDiff < 0,
      firstDiff < 0 ? `${fmt(PLAYERS)} places` : `first difference at rank ${firstDiff + 1}`);
    const tiesOnPoints = want.filter((r, i) => i > 0 && want[i - 1]!.points === r.points);
    const byExact = want.filter((r, i) => i > 0 && want[i - 1]!.points === r.points && want[i - 1]!.exact !== r.exact).length;
    info(`${fmt(tiesOnPoints.length)} places have the points of the place above: at ${fmt(byExact)} of them the exact hits decide, ` +
      `at ${fmt(tiesOnPoints.length - byExact)} the player id`);
  } finally {
    if (verifier) { await verifier.close(); await verifierRun; }
    await pool.close();
    await client.deleteCron(CRON_KEY).catch(() => false); // no schedule of the example stays on the server
    db.close();
  }
  const all = allClaims();
  const failed = all.filter((c) => !c.ok);
  console.log(`\n${all.length - failed.length}/${all.length} claims hold${failed.length ? `; FAILED: ${failed.map((c) => c.text).join(" | ")}` : ""}`);
  console.log(`elapsed ${since()} ms`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => { client.close(); process.exitCode = code; },
  (e) => {
    console.error("settlement: error:", e instanceof BatonError ? `${e.status} ${e.code} ${e.message}` : e);
    client.close();
    process.exitCode = 2;
  },
);
