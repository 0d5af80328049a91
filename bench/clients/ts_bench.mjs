// ts_bench.mjs: throughput of the TypeScript client library (clients/typescript,
// its compiled dist/) against a running batond, in the phases of
// ../shared/peerbench/bench_bullmq.js so that the figures read beside BullMQ's:
//   enqueue_bulk             N jobs in batches of --batch (enqueueBatch, one request
//                            awaited at a time, as BullMQ's awaited addBulk)
//   process                  a Worker with --conc (100) processing those N pre-enqueued
//                            no-op jobs: time from run() until all N are completed
//   enqueue_single_inflightN client.enqueue() from --inflight (32) concurrent callers,
//                            each awaiting its call before the next, coalescing on,
//                            until N jobs or --limit_s (10 s), as BullMQ's queue.add()
// Jobs are no-ops ({i} payloads). --retention=1 gives the queues a 1 s retention
// of ended jobs (BullMQ's removeOnComplete/removeOnFail), off by default as in
// bench_baton.js: the purge of the processed jobs then runs during the enqueue
// phase and takes server time from it. --minimal=1 makes enqueue() ask for
// minimal answers; --claims=K sets the Worker's claimsInFlight; --max_batch=M
// the client's maxBatch.
// Prints one JSON object (jobs/s per phase, client CPU, and the server's CPU when
// --pid names batond's pid). Every loop is bounded in count and in time.
//
//   node bench/clients/ts_bench.mjs --url=http://127.0.0.1:7700 --key=bk_... --n=100000
//
// Build the client first: (cd clients/typescript && npm ci && npm run build).
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { Client, Worker } = await import(join(here, "..", "..", "clients", "typescript", "dist", "esm", "index.js"));

function args(defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    let v = m[2];
    if (v === undefined) v = argv[i + 1] !== undefined && !argv[i + 1].startsWith("--") ? argv[++i] : "1";
    out[m[1]] = v !== "" && !Number.isNaN(Number(v)) ? Number(v) : v;
  }
  return out;
}

const A = args({ url: "http://127.0.0.1:7700", key: process.env.BATON_KEY ?? "", n: 100000, batch: 1000, conc: 100, inflight: 32, limit_s: 10, retention: 0, claims: 0, max_batch: 1000, minimal: 0, pid: 0, phases: "all" });
const nowMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rate = (n, ms) => (ms > 0 ? Math.round((n * 1000) / ms) : null);

function cpu() {
  let server = 0;
  if (A.pid) {
    try {
      const st = readFileSync(`/proc/${A.pid}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      server = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      server = 0;
    }
  }
  const u = process.cpuUsage();
  return { server, client: (u.user + u.system) / 1e6 };
}
function cpuDiff(a, b, ms) {
  const s = Math.round((b.server - a.server) * 100) / 100;
  const c = Math.round((b.client - a.client) * 100) / 100;
  const r = { client_cpu_s: c, client_cores: Math.round(((c * 1000) / ms) * 100) / 100 };
  if (A.pid) Object.assign(r, { server_cpu_s: s, server_cores: Math.round(((s * 1000) / ms) * 100) / 100 });
  return r;
}

async function main() {
  const client = new Client({ url: A.url, key: A.key || undefined, maxBatch: A.max_batch });
  const tag = `${process.pid}-${Date.now()}`;
  const bulkQ = `tsb-bulk-${tag}`;
  const singleQ = `tsb-single-${tag}`;
  const retention = { completedMs: 1000, deadMs: 1000, cancelledMs: 1000 };
  if (A.retention) {
    await client.updateQueue(bulkQ, { retention });
    await client.updateQueue(singleQ, { retention });
  }
  const res = {
    peer: "baton-ts-client",
    date: new Date().toISOString(),
    versions: { node: process.version, client: JSON.parse(readFileSync(join(here, "..", "..", "clients", "typescript", "package.json"), "utf8")).version },
    settings: { ...A, key: A.key ? "set" : "" },
  };

  // a) bulk enqueue (the processing phase's N jobs), one batch request at a time
  let c0 = cpu();
  let t0 = nowMs();
  for (let i = 0; i < A.n; i += A.batch) {
    const jobs = [];
    for (let j = i; j < Math.min(A.n, i + A.batch); j++) jobs.push({ queue: bulkQ, type: "noop", payload: { i: j } });
    await client.enqueueBatch(jobs, { minimal: true });
  }
  let ms = nowMs() - t0;
  res.enqueue_bulk = { ...cpuDiff(c0, cpu(), ms), jobs: A.n, batch: A.batch, ms: Math.round(ms), jobs_per_s: rate(A.n, ms) };
  console.error("bulk enqueue", res.enqueue_bulk);

  // b) a Worker processing the N pre-enqueued no-op jobs
  let completed = 0;
  let failed = 0;
  const w = new Worker({ client, queue: bulkQ, concurrency: A.conc, waitMs: 1000, handler: () => null, ...(A.claims ? { claimsInFlight: A.claims } : {}) });
  w.on("completed", () => completed++);
  w.on("failed", () => failed++);
  w.on("error", (e) => console.error("worker error", e.message));
  c0 = cpu();
  t0 = nowMs();
  const running = w.run();
  const end = Date.now() + 300000;
  while (completed + failed < A.n && Date.now() < end) await sleep(2);
  ms = nowMs() - t0;
  res.process = { ...cpuDiff(c0, cpu(), ms), jobs: completed, failed, concurrency: A.conc, ms: Math.round(ms), jobs_per_s: rate(completed, ms), complete: completed >= A.n };
  console.error("process", res.process);
  await w.close();
  await running;

  // c) client.enqueue() from A.inflight concurrent callers, coalescing on
  if (A.phases === "all") {
    let next = 0;
    let done = 0;
    let errors = 0;
    c0 = cpu();
    t0 = nowMs();
    const stopAt = t0 + A.limit_s * 1000;
    const lane = async () => {
      while (next < A.n && nowMs() < stopAt) {
        const i = next++;
        try {
          await client.enqueue({ queue: singleQ, type: "noop", payload: { i } }, { minimal: !!A.minimal });
          done++;
        } catch {
          errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: A.inflight }, lane));
    ms = nowMs() - t0;
    res.enqueue_single_inflightN = { ...cpuDiff(c0, cpu(), ms), jobs: done, errors, inflight: A.inflight, coalesce: true, minimal: !!A.minimal, max_batch: A.max_batch, ms: Math.round(ms), jobs_per_s: rate(done, ms), limited_by_time: done < A.n };
    console.error("single enqueue", res.enqueue_single_inflightN);
  }
  // Leave no queued jobs behind (as BullMQ's obliterate): drain cancels 1,000 per call.
  for (let i = 0; i <= A.n / 1000 + 1; i++) {
    const d = await client.drainQueue(singleQ).catch(() => ({ more: false }));
    if (!d.more) break;
  }
  res.client_peak_rss_mb = Math.round(process.resourceUsage().maxRSS / 102.4) / 10;
  client.close();
  console.log(JSON.stringify(res));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
