/*
 * main.ts: baton's data-service example (seed 004, a fantasy-football data
 * service that ran its scheduled ingestion on BullMQ), run against a batond.
 *
 *   BATON_URL=http://127.0.0.1:7700 BATON_KEY=bk_... npm start
 *
 * Five parts, each printed as checked claims (PASS/FAIL with figures); the
 * process exits 1 when any claim fails, 2 on an unexpected error or timeout:
 *   1. windowed cron schedules in Europe/London and their next fire times
 *      (POST /v1/cron/preview), checked against an independent Intl computation;
 *   2. per-queue concurrency and rate limits (PATCH /v1/queues), measured from
 *      the jobs' own attempt times on the server and inside the handlers;
 *   3. an ingestion flow per gameweek: fixtures -> lineups -> player points
 *      (client.createFlow), the order they ran in, and a parent failure's effect
 *      under on_parent_failure "cancel" and "run";
 *   4. progress and steps reported by the points worker, read back from the job
 *      while it runs and after;
 *   5. a manual run refused (409 already_running) while one is going.
 *
 * Assumptions: the key is an admin key of one tenant (it writes cron, queues,
 * jobs); the example owns the queues and schedules named "ds-*" on that server
 * (it drains those queues first and deletes its schedules at the end, so no
 * schedule keeps firing afterwards). DATASVC_SHORT=1 runs a smaller version
 * (run_tests.sh); DATASVC_ONLY=limits runs part 2 alone and DATASVC_SABOTAGE=1
 * removes the concurrency limit before measuring, to show the claim can fail.
 */
import { BatonError, Client, UnrecoverableError, Worker } from "baton-client";
import type { ClaimedJob, Flow, Job, JobContext, ScheduleInput } from "baton-client";
import { allClaims, beginSection, claim, info } from "./checks.js";
import {
  FixturesResult, LineupsResult, PointsResult, expectedPoints, fixturesOf, scorePlayers, startersOf,
} from "./domain.js";
import { instantOf, showWall, wallOf } from "./tz.js";

const url = process.env.BATON_URL ?? "http://127.0.0.1:7700";
const key = process.env.BATON_KEY;
const SHORT = process.env.DATASVC_SHORT === "1" || process.argv.includes("--short");
const ONLY = process.env.DATASVC_ONLY ?? "";
const SABOTAGE = process.env.DATASVC_SABOTAGE === "1";
const TZ = "Europe/London";
const RUN_TAG = `${Date.now().toString(36)}`;

const client = new Client({ url, key });
const t0 = performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ms = (iso: string | null): number => (iso === null ? NaN : Date.parse(iso));
const since = () => Math.round(performance.now() - t0);

/** Polls until pred holds or the time is up (bounded in time and count). */
async function until<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100000; i++) {
    const v = await read();
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
  throw new Error(`gave up waiting for ${what}`);
}

// ---------------------------------------------------------------------------
// 1. Windowed cron schedules
// ---------------------------------------------------------------------------

const SCHEDULES: Record<string, ScheduleInput> = {
  // Fixtures and live scores only matter during match hours, UK time: every
  // 10 minutes from 12:00 to 23:50 London time, GMT or BST alike. Late data is
  // worthless, so a missed tick is skipped rather than fired late.
  "ds-fixtures-live": {
    cron: "*/10 12-23 * * *", timezone: TZ, overlap: "skip", misfire: "skip",
    owner: "data-service", description: "fixtures and live scores, match hours only",
    job: { queue: "ds-ingest", type: "fixtures", payload: { condition: "isMatchDayTime" }, priority: "high",
           maxAttempts: 5, backoff: { type: "fixed", baseMs: 1000, maxMs: 1000 } },
  },
  // The nightly meta refresh (BOOTSTRAP_META: phases, teams, events in order),
  // at 01:30 London, inside the hour the UK clocks change: 01:30 does not exist
  // on 2026-03-29 (01:00 GMT -> 02:00 BST), so under dst_gap "shift" it runs at
  // 02:30 BST; it exists twice on 2026-10-25 (02:00 BST -> 01:00 GMT), and
  // under dst_fold "first" it runs once, at the first (01:30 BST).
  "ds-nightly-bootstrap": {
    cron: "30 1 * * *", timezone: TZ, overlap: "skip", misfire: "fire_once", dstGap: "shift", dstFold: "first",
    owner: "data-service", description: "BOOTSTRAP_META: phases, teams, events",
    job: { queue: "ds-meta", type: "bootstrap_meta", payload: { sequence: ["phases", "teams", "events"] },
           priority: "high", maxAttempts: 3, backoff: { type: "exponential", baseMs: 1000, maxMs: 60000 } },
  },
};

/** The fires of a "*\/step h1-h2 * * *" schedule after `from`, minute by minute in real time. */
function expectedWindowFires(fromMs: number, count: number, step: number, h1: number, h2: number): number[] {
  const out: number[] = [];
  let t = Math.floor(fromMs / 60000) * 60000 + 60000;
  for (let i = 0; i < 60 * 24 * 3 && out.length < count; i++, t += 60000) {
    const w = wallOf(t, TZ);
    if (w.minute % step === 0 && w.hour >= h1 && w.hour <= h2) out.push(t);
  }
  return out;
}

/** The fires of a daily hh:mm schedule after `from`, day by day in the zone. */
function expectedDailyFires(fromMs: number, count: number, hour: number, minute: number): number[] {
  const out: number[] = [];
  const w = wallOf(fromMs, TZ);
  for (let d = 0; d < count + 3 && out.length < count; d++) {
    const day = new Date(Date.UTC(w.year, w.month - 1, w.day + d));
    const t = instantOf(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), hour, minute, TZ);
    if (t > fromMs) out.push(t);
  }
  return out;
}

function sameFires(got: string[], want: number[]): boolean {
  return got.length === want.length && got.every((g, i) => ms(g) === want[i]);
}

function showFires(fires: string[]): string {
  return fires.map((f) => `${f.slice(5, 16).replace("T", " ")}Z = ${showWall(ms(f), TZ)}`).join(", ");
}

async function partSchedules(): Promise<void> {
  beginSection("1. windowed cron schedules (Europe/London)");
  for (const [k, def] of Object.entries(SCHEDULES)) {
    const put = await client.putCron(k, def);
    const s = put.schedule;
    const now = await client.previewCron({ cron: s.cron, timezone: s.timezone, count: 5, from: s.updatedAt });
    info(`${k}  "${s.cron}" ${s.timezone}: ${now.description}`);
    info(`  next 5 fires: ${showFires(now.fires)}`);
    claim(`${k}: the stored next_fire_at is the preview's first fire from the save`,
      s.nextFireAt !== null && now.fires[0] === s.nextFireAt, `next_fire_at ${s.nextFireAt}`);
  }

  // Fixed dates, so the claims do not depend on today's date.
  const cases: { what: string; from: string; count: number }[] = [
    { what: "a winter day (GMT): the window opens at 12:00 = 12:00Z", from: "2026-01-10T11:00:00Z", count: 5 },
    { what: "a summer day (BST): the window opens at 12:00 BST = 11:00Z", from: "2026-07-10T09:30:00Z", count: 5 },
    { what: "the window closes after 23:50 and reopens at 12:00 the next day", from: "2026-01-10T23:30:00Z", count: 4 },
    { what: "across the spring change (29 March): 23:50 GMT, then 12:00 BST = 11:00Z", from: "2026-03-28T23:35:00Z", count: 3 },
  ];
  for (const c of cases) {
    const p = await client.previewCron({ cron: "*/10 12-23 * * *", timezone: TZ, count: c.count, from: c.from });
    const want = expectedWindowFires(ms(c.from), c.count, 10, 12, 23);
    claim(`fixtures-live, ${c.what}`, p.valid && sameFires(p.fires, want), showFires(p.fires));
  }
  {
    const p = await client.previewCron({ cron: "*/10 12-23 * * *", timezone: TZ, count: 100, from: "2026-10-24T10:55:00Z" });
    const inWindow = p.fires.every((f) => {
      const w = wallOf(ms(f), TZ);
      return w.hour >= 12 && w.hour <= 23 && w.minute % 10 === 0;
    });
    const perDay = new Map<number, number>();
    for (const f of p.fires) perDay.set(wallOf(ms(f), TZ).day, (perDay.get(wallOf(ms(f), TZ).day) ?? 0) + 1);
    claim("fixtures-live: 100 fires across the autumn change all fall in 12:00-23:50 London, 72 a full day",
      inWindow && perDay.get(24) === 72, `per local day: ${[...perDay].map(([d, n]) => `${d}th ${n}`).join(", ")}`);
  }
  {
    const from = "2026-03-26T12:00:00Z";
    const p = await client.previewCron({ cron: "30 1 * * *", timezone: TZ, count: 5, from, dstGap: "shift" });
    const want = expectedDailyFires(ms(from), 5, 1, 30);
    claim("nightly-bootstrap: 01:30 London each night; on 29 March (no 01:30) it runs at 02:30 BST = 01:30Z",
      p.valid && sameFires(p.fires, want) && p.fires[2] === "2026-03-29T01:30:00.000Z", showFires(p.fires));
    const skip = await client.previewCron({ cron: "30 1 * * *", timezone: TZ, count: 4, from, dstGap: "skip" });
    claim("nightly-bootstrap with dst_gap \"skip\": no run on 29 March",
      skip.fires.length === 4 && !skip.fires.some((f) => f.startsWith("2026-03-29")), showFires(skip.fires));
  }
  {
    const from = "2026-10-24T12:00:00Z";
    const p = await client.previewCron({ cron: "30 1 * * *", timezone: TZ, count: 3, from, dstFold: "first" });
    const want = expectedDailyFires(ms(from), 3, 1, 30);
    const both = await client.previewCron({ cron: "30 1 * * *", timezone: TZ, count: 3, from, dstFold: "both" });
    claim("nightly-bootstrap: on 25 October (01:30 twice) it runs once, at 01:30 BST = 00:30Z; \"both\" would run twice",
      sameFires(p.fires, want) && p.fires[0] === "2026-10-25T00:30:00.000Z" &&
        both.fires.slice(0, 2).join() === "2026-10-25T00:30:00.000Z,2026-10-25T01:30:00.000Z",
      `first: ${showFires(p.fires)}; both: ${showFires(both.fires.slice(0, 2))}`);
  }
  {
    const bad = await client.previewCron({ cron: "*/10 12-24 * * *", timezone: TZ });
    claim("a mistyped window (hour 24) is refused by preview with the field's column",
      !bad.valid && bad.error?.code === "invalid_cron", bad.error?.message ?? "");
  }
}

// ---------------------------------------------------------------------------
// 2. Per-queue concurrency and rate limits
// ---------------------------------------------------------------------------

interface LimitCase {
  queue: string;
  concurrency: number;
  rate: { max: number; perMs: number };
  jobs: number;
  jobMs: number;
}

/** Most intervals [start, end) open at once (an end at the same instant as a start frees first). */
function peakOverlap(intervals: [number, number][]): number {
  const ev: [number, number][] = [];
  for (const [s, e] of intervals) ev.push([s, 1], [e, -1]);
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of ev) peak = Math.max(peak, (cur += d));
  return peak;
}

/** Most starts inside any window [t, t + perMs). */
function peakWindow(starts: number[], perMs: number): number {
  const s = [...starts].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i] - s[j] >= perMs) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

async function measureLimits(c: LimitCase): Promise<void> {
  await client.drainQueue(c.queue).catch(() => undefined);
  const patch = SABOTAGE ? { concurrency: null, rate: null } : { concurrency: c.concurrency, rate: c.rate };
  const q = await client.updateQueue(c.queue, patch);
  info(`${c.queue}: concurrency ${q.concurrency}, rate ${q.rate ? `${q.rate.max} per ${q.rate.perMs} ms` : "none"}` +
       `; ${c.jobs} jobs of ${c.jobMs} ms, two workers of 4 slots each`);
  if (!SABOTAGE) {
    claim(`${c.queue}: the limits read back from the queue`,
      q.concurrency === c.concurrency && q.rate?.max === c.rate.max && q.rate?.perMs === c.rate.perMs);
  }
  let running = 0;
  let peakLocal = 0;
  const handler = async () => {
    peakLocal = Math.max(peakLocal, ++running);
    try {
      await sleep(c.jobMs);
      return { ok: true };
    } finally {
      running--;
    }
  };
  const jobs = await client.enqueueBatch(
    Array.from({ length: c.jobs }, (_, i) => ({ queue: c.queue, type: "entry_batch", payload: { batch: i, size: 50 } })),
  );
  const started = Date.now();
  // Two workers with 8 slots between them: the limit is the server's, across workers.
  const workers = [0, 1].map((i) => new Worker({ client, queue: c.queue, concurrency: 4, waitMs: 1000,
                                                 workerId: `ds-${c.queue}-${i}-${RUN_TAG}`, handler }));
  const runs = workers.map((w) => w.run());
  try {
    await until(`${c.queue} to finish`, () => client.getQueue(c.queue),
      (qq) => qq.counts.queued + qq.counts.running + qq.counts.retrying === 0, 60000);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(runs);
  }
  const elapsed = Date.now() - started;
  const done = await Promise.all(jobs.map((j) => client.getJob(j.id)));
  const allDone = done.every((j) => j.state === "completed" && j.attempts.length === 1);
  const intervals: [number, number][] = done.map((j) => [ms(j.attempts[0]!.startedAt), ms(j.attempts[0]!.finishedAt)]);
  const peakServer = peakOverlap(intervals);
  const peakRate = peakWindow(intervals.map((iv) => iv[0]), c.rate.perMs);
  const minElapsed = Math.max(Math.ceil(c.jobs / c.concurrency) * c.jobMs, (Math.ceil(c.jobs / c.rate.max) - 1) * c.rate.perMs);
  claim(`${c.queue}: all ${c.jobs} jobs completed, one attempt each`, allDone);
  claim(`${c.queue}: never more than ${c.concurrency} running at once`,
    peakServer <= c.concurrency && peakLocal <= c.concurrency,
    `peak ${peakServer} from the server's attempt times, ${peakLocal} inside the handlers`);
  claim(`${c.queue}: the concurrency limit was reached (so the check above measured something)`,
    peakServer === c.concurrency, `peak ${peakServer}`);
  const starts = intervals.map((iv) => iv[0]).sort((a, b) => a - b);
  const span = starts[starts.length - 1]! - starts[0]!;
  claim(`${c.queue}: never more than ${c.rate.max} starts in any ${c.rate.perMs} ms`,
    peakRate <= c.rate.max,
    `most starts in a window: ${peakRate}; first to last start ${span} ms, ` +
      `${((c.jobs - c.rate.max) / (span / c.rate.perMs)).toFixed(2)} starts per ${c.rate.perMs} ms after the first window's burst`);
  claim(`${c.queue}: the run took at least what the limits allow (${minElapsed} ms)`,
    elapsed >= minElapsed * 0.95, `${elapsed} ms`);
}

async function partLimits(): Promise<void> {
  beginSection(`2. per-queue concurrency and rate limits${SABOTAGE ? " (SABOTAGED: limits removed)" : ""}`);
  // The seed's queues: batchProcessor {concurrency 3, max 5 per 1000 ms},
  // analyticsProcessor {concurrency 2, max 2 per 1000 ms}. Both run at once.
  await Promise.all([
    measureLimits({ queue: "ds-batch-processor", concurrency: 3, rate: { max: 5, perMs: 1000 },
                    jobs: SHORT ? 12 : 30, jobMs: 400 }),
    measureLimits({ queue: "ds-analytics-processor", concurrency: 2, rate: { max: 2, perMs: 1000 },
                    jobs: SHORT ? 5 : 12, jobMs: 600 }),
  ]);
}

// ---------------------------------------------------------------------------
// 3. and 4. The ingestion flow, progress and steps
// ---------------------------------------------------------------------------

const PIPELINE = "ds-pipeline";
const OUTAGE_GW = 38;

interface Event {
  at: number;
  what: "start" | "end";
  type: string;
  gameweek: number;
  job: string;
}

async function partFlows(): Promise<void> {
  beginSection("3. flow: fixtures -> lineups -> player points");
  await client.drainQueue(PIPELINE).catch(() => undefined);
  const gameweeks = SHORT ? [1, 2, 3] : [1, 2, 3, 4, 5, 6];
  const events: Event[] = [];
  const handled = new Set<string>();
  let gate: { job: string; open: () => void } | null = null;
  const gateOpened = new Promise<void>((resolve) => {
    gate = { job: "", open: resolve };
  });

  const handler = async (job: ClaimedJob<{ gameweek: number; outage?: boolean }>, ctx: JobContext): Promise<unknown> => {
    const gw = job.payload.gameweek;
    handled.add(job.id);
    events.push({ at: since(), what: "start", type: job.type, gameweek: gw, job: job.id });
    try {
      switch (job.type) {
        case "fixtures": {
          await sleep(150); // the FPL API call
          if (job.payload.outage) throw new UnrecoverableError("FPL API answered 503 for the whole gameweek");
          const r: FixturesResult = { gameweek: gw, fixtures: fixturesOf(gw) };
          return r;
        }
        case "lineups": {
          const fx = job.parents?.[0]?.result as FixturesResult | null | undefined;
          if (!fx) throw new UnrecoverableError("lineups ran without its fixtures' result");
          await sleep(100);
          const r: LineupsResult = { gameweek: gw, fixtures: fx.fixtures.length, players: fx.fixtures.flatMap(startersOf) };
          return r;
        }
        case "player_points": {
          const lu = job.parents?.[0]?.result as LineupsResult | null | undefined;
          if (!lu) throw new UnrecoverableError("player points ran without its lineups' result");
          await ctx.progress(10, "fetch-stats", `${lu.players.length} players`);
          await sleep(80);
          await ctx.progress(60, "compute", "scoring");
          if (gw === gameweeks[0] && gate) {
            // The first gameweek waits here until main has read its progress
            // back from the server (bounded: 10 s), so the read is not a race.
            gate.job = job.id;
            await Promise.race([gateOpened, sleep(10000)]);
          }
          const r: PointsResult = scorePlayers(gw, lu.players);
          await ctx.progress(90, "write", "storing points");
          await sleep(50);
          await ctx.progress(100, "write", `${r.players} players written`);
          return r;
        }
        case "alert_ops": {
          const parent = job.parents?.[0];
          return { alerted: true, gameweek: gw, parent: parent?.id ?? null, parentResult: parent?.result ?? null };
        }
        default:
          throw new UnrecoverableError(`no handler for ${job.type}`);
      }
    } finally {
      events.push({ at: since(), what: "end", type: job.type, gameweek: gw, job: job.id });
    }
  };

  // Every flow is created before any worker runs: the children must wait.
  const flows: { gw: number; flow: Flow }[] = [];
  for (const gw of gameweeks) {
    const flow = await client.createFlow([
      { ref: "fixtures", queue: PIPELINE, type: "fixtures", payload: { gameweek: gw }, maxAttempts: 3 },
      { ref: "lineups", queue: PIPELINE, type: "lineups", payload: { gameweek: gw }, dependsOn: ["fixtures"] },
      { ref: "points", queue: PIPELINE, type: "player_points", payload: { gameweek: gw }, dependsOn: ["lineups"] },
    ]);
    flows.push({ gw, flow });
  }
  // The outage gameweek: fixtures fails for good. lineups (and points below it)
  // use the default on_parent_failure "cancel"; alert_ops says "run".
  const outage = await client.createFlow([
    { ref: "fixtures", queue: PIPELINE, type: "fixtures", payload: { gameweek: OUTAGE_GW, outage: true }, maxAttempts: 3 },
    { ref: "lineups", queue: PIPELINE, type: "lineups", payload: { gameweek: OUTAGE_GW }, dependsOn: ["fixtures"] },
    { ref: "points", queue: PIPELINE, type: "player_points", payload: { gameweek: OUTAGE_GW }, dependsOn: ["lineups"] },
    { ref: "alert", queue: PIPELINE, type: "alert_ops", payload: { gameweek: OUTAGE_GW }, dependsOn: ["fixtures"],
      onParentFailure: "run" },
  ]);
  const created = [...flows.map((f) => f.flow), outage];
  const states = created.flatMap((f) => f.jobs.map((j) => `${j.ref}:${j.state}`));
  claim("at creation every fixtures job is queued and every child is pending",
    created.every((f) => f.jobs.every((j) => (j.ref === "fixtures" ? j.state === "queued" : j.state === "pending"))),
    `${created.length} flows, ${new Set(states).size} distinct ref:state pairs: ${[...new Set(states)].join(" ")}`);

  const worker = new Worker({ client, queue: PIPELINE, concurrency: 4, waitMs: 1000, workerId: `ds-pipeline-${RUN_TAG}`, handler });
  const run = worker.run();
  let progressSeen: Job | null = null;
  try {
    // 4. While the first gameweek's points job waits at its gate, read it back.
    const g = gate as { job: string; open: () => void } | null;
    await until("the gated points job", async () => g?.job ?? "", (id) => id !== "", 20000);
    progressSeen = await until("its progress on the server", () => client.getJob(g!.job),
      (j) => j.progress?.step === "compute", 10000);
    g!.open();
    for (const f of created) {
      await until(`flow ${f.id} to end`, () => client.getFlow(f.id), (ff) => ff.state !== "running", 30000);
    }
  } finally {
    await worker.close();
    await run;
  }

  // The order the jobs ran in, as the worker saw it.
  info("run order (ms since start, as the worker saw it):");
  for (const e of events) info(`  +${String(e.at).padStart(5)}  ${e.what.padEnd(5)} ${e.type.padEnd(13)} gw ${e.gameweek} (job ${e.job})`);

  for (const { gw, flow } of flows) {
    const f = await client.getFlow(flow.id);
    const byRef = new Map(f.jobs.map((j) => [j.ref, j] as const));
    const fx = byRef.get("fixtures")!, lu = byRef.get("lineups")!, pt = byRef.get("points")!;
    claim(`gw ${gw}: flow ${f.id} completed, every job completed`,
      f.state === "completed" && f.jobs.every((j) => j.state === "completed"));
    const gap1 = ms(lu.startedAt) - ms(fx.finishedAt);
    const gap2 = ms(pt.startedAt) - ms(lu.finishedAt);
    claim(`gw ${gw}: lineups started after fixtures completed, points after lineups (server times)`,
      gap1 >= 0 && gap2 >= 0, `lineups started ${gap1} ms after fixtures finished, points ${gap2} ms after lineups`);
    const at = (id: string, what: "start" | "end") => events.find((e) => e.job === id && e.what === what)?.at ?? NaN;
    claim(`gw ${gw}: no child's handler started before its parent's handler ended (worker clock)`,
      at(lu.id, "start") >= at(fx.id, "end") && at(pt.id, "start") >= at(lu.id, "end"));
    const want = expectedPoints(gw);
    const got = pt.result as PointsResult | null;
    claim(`gw ${gw}: the points job's result, built from its parents' results, equals a direct computation`,
      got !== null && got.players === want.players && got.totalPoints === want.totalPoints &&
        got.top.player === want.top.player && got.top.points === want.top.points,
      `players ${got?.players}, total ${got?.totalPoints}, top player ${got?.top.player} (${got?.top.points}); ` +
        `expected ${want.players}, ${want.totalPoints}, ${want.top.player} (${want.top.points})`);
  }

  {
    const f = await client.getFlow(outage.id);
    const byRef = new Map(f.jobs.map((j) => [j.ref, j] as const));
    const fx = byRef.get("fixtures")!, lu = byRef.get("lineups")!, pt = byRef.get("points")!, al = byRef.get("alert")!;
    info(`outage gw ${OUTAGE_GW}: ${f.jobs.map((j) => `${j.ref} ${j.state}${j.cancelReason ? ` (${j.cancelReason})` : ""}`).join(", ")}; flow ${f.state}`);
    claim(`gw ${OUTAGE_GW}: fixtures failed unrecoverably: dead after 1 attempt of 3`,
      fx.state === "dead" && fx.attempts.length === 1 && fx.maxAttempts === 3, `last_error "${fx.lastError}"`);
    claim(`gw ${OUTAGE_GW}: lineups (on_parent_failure "cancel") was cancelled with parent_failed, never started`,
      lu.state === "cancelled" && lu.cancelReason === "parent_failed" && lu.attempts.length === 0 &&
        lu.startedAt === null && !handled.has(lu.id));
    claim(`gw ${OUTAGE_GW}: points, below lineups, was cancelled in the cascade, never started`,
      pt.state === "cancelled" && pt.cancelReason === "parent_failed" && pt.attempts.length === 0 && !handled.has(pt.id));
    const ar = al.result as { parent: string | null; parentResult: unknown } | null;
    claim(`gw ${OUTAGE_GW}: alert_ops (on_parent_failure "run") ran after the failure and saw its parent without a result`,
      al.state === "completed" && ar?.parent === fx.id && ar.parentResult === null && ms(al.startedAt) >= ms(fx.finishedAt));
    claim(`gw ${OUTAGE_GW}: the flow's state is "failed"`, f.state === "failed");
  }

  beginSection("4. progress and steps from the worker");
  {
    const p = progressSeen!;
    claim("while the points job ran, the server showed its progress (60%, step compute) and its open step",
      p.state === "running" && p.progress?.percent === 60 && p.progress?.step === "compute" &&
        p.steps.map((s) => s.step).join(",") === "fetch-stats,compute" && p.steps[1]!.finishedAt === null,
      `state ${p.state}, progress ${JSON.stringify(p.progress)}`);
    const j = await client.getJob(p.id);
    info(`job ${j.id} steps: ${j.steps.map((s) => `${s.step} [${s.startedAt.slice(11, 23)} - ${s.finishedAt?.slice(11, 23) ?? "open"}]`).join(", ")}`);
    const names = j.steps.map((s) => s.step).join(",");
    const ordered = j.steps.every((s, i) => i === 0 || ms(s.startedAt) >= ms(j.steps[i - 1]!.startedAt));
    const closed = j.steps.slice(0, -1).every((s) => s.finishedAt !== null && ms(s.finishedAt) <= ms(j.steps[j.steps.indexOf(s) + 1]!.startedAt));
    claim("after completion: progress 100% at step write, with the worker's message",
      j.progress?.percent === 100 && j.progress?.step === "write" && j.progress?.message === `${(j.result as PointsResult).players} players written`,
      JSON.stringify(j.progress));
    claim("the step log holds fetch-stats, compute, write in order, each closed when the next opened, all attempt 1",
      names === "fetch-stats,compute,write" && ordered && closed && j.steps.every((s) => s.attempt === 1), names);
  }
}

// ---------------------------------------------------------------------------
// 5. A manual run refused while one is going
// ---------------------------------------------------------------------------

async function partManualRun(): Promise<void> {
  beginSection("5. manual runs: refused while one is going (overlap \"skip\")");
  const KEY = "ds-points-recalc";
  const QUEUE = "ds-recalc";
  await client.deleteCron(KEY).catch(() => false); // a fresh history for the count below
  await client.drainQueue(QUEUE).catch(() => undefined);
  // POINTS_RECALCULATION: "exclusive execution (no parallel)".
  await client.putCron(KEY, {
    cron: "20 6,8,10 * * *", timezone: TZ, overlap: "skip", misfire: "fire_once",
    job: { queue: QUEUE, type: "points_recalc", payload: { scope: "all" } },
  });
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  const worker = new Worker({
    client, queue: QUEUE, concurrency: 2, waitMs: 1000, workerId: `ds-recalc-${RUN_TAG}`,
    handler: async (job) => {
      if (job.payload && (job.payload as { hold?: boolean }).hold) await Promise.race([released, sleep(15000)]);
      return { recalculated: true };
    },
  });
  const run = worker.run();
  try {
    const first = await client.runCron(KEY, { payload: { hold: true } });
    info(`runCron #1: run ${first.id} ${first.status}, trigger ${first.trigger}, job ${first.jobId}`);
    const running = await until("the first run's job to be running", () => client.getJob(first.jobId!), (j) => j.state === "running");
    let refusal: BatonError | null = null;
    try {
      const second = await client.runCron(KEY);
      info(`runCron #2: accepted?! run ${second.id} ${second.status}`);
    } catch (e) {
      if (!(e instanceof BatonError)) throw e;
      refusal = e;
      info(`runCron #2 refused: HTTP ${e.status} ${e.code}: ${e.message} (job_id ${e.jobId})`);
    }
    claim("the second manual run, while the first runs, is refused with 409 already_running",
      refusal !== null && refusal.status === 409 && refusal.code === "already_running",
      refusal ? `${refusal.status} ${refusal.code}` : "it was accepted");
    // The refusal does not name the going job (job_id is null); the schedule does.
    const sched = await client.getCron(KEY);
    claim("the schedule shows the going run: its last run is the first one, its job running",
      sched.lastRun?.id === first.id && sched.lastRun?.jobId === running.id && sched.lastStatus === "running",
      `last_run ${sched.lastRun?.id}, job ${sched.lastRun?.jobId}, last_status ${sched.lastStatus}`);
    const runs1 = await client.listCronRunsPage(KEY, { limit: 10 });
    claim("the refusal recorded no run: the history holds the first run only",
      runs1.items.length === 1 && runs1.items[0]!.id === first.id, `${runs1.items.length} run(s)`);
    release();
    const done = await client.waitJob(first.jobId!, { timeoutMs: 20000 });
    const third = await client.runCron(KEY);
    const thirdDone = await client.waitJob(third.jobId!, { timeoutMs: 20000 });
    claim("once the first run completed, a manual run is accepted again and completes",
      done.state === "completed" && thirdDone.state === "completed" && thirdDone.cron?.key === KEY && thirdDone.priority === "high",
      `run ${third.id}, job ${third.jobId} ${thirdDone.state}, priority ${thirdDone.priority}, cron ${JSON.stringify(thirdDone.cron)}`);
    const runs2 = await client.listCronRunsPage(KEY, { limit: 10 });
    info(`history: ${runs2.items.map((r) => `run ${r.id} ${r.trigger} ${r.status}${r.payload ? ` payload ${JSON.stringify(r.payload)}` : ""}`).join("; ")}`);
  } finally {
    release();
    await worker.close();
    await run;
  }
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const guard = setTimeout(() => {
    console.error(`data-service: gave up after ${SHORT ? 90 : 240} s`);
    process.exit(2);
  }, (SHORT ? 90 : 240) * 1000);
  guard.unref();
  console.log(`data-service example against ${url}${SHORT ? " (short run)" : ""}`);
  try {
    if (ONLY === "" || ONLY === "schedules") await partSchedules();
    if (ONLY === "" || ONLY === "limits") await partLimits();
    if (ONLY === "" || ONLY === "flows") await partFlows();
    if (ONLY === "" || ONLY === "manual") await partManualRun();
  } finally {
    // No schedule of the example keeps firing on the server afterwards.
    for (const k of [...Object.keys(SCHEDULES), "ds-points-recalc"]) await client.deleteCron(k).catch(() => false);
  }
  const all = allClaims();
  const failed = all.filter((c) => !c.ok);
  console.log(`\n${all.length - failed.length}/${all.length} claims hold${failed.length ? `; FAILED: ${failed.map((c) => c.text).join(" | ")}` : ""}`);
  console.log(`elapsed ${since()} ms`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    client.close();
    process.exitCode = code;
  },
  (e) => {
    console.error("data-service: error:", e instanceof BatonError ? `${e.status} ${e.code} ${e.message}` : e);
    client.close();
    process.exitCode = 2;
  },
);
