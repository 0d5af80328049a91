/*
 * settle-worker.ts: one settlement worker process. main.ts forks two (and a
 * new one whenever one dies), so that a worker can be killed with SIGKILL
 * while it holds a job. Each runs a baton-client Worker on the queue
 * stl-settle with concurrency 2 and applies each settlement to the ledger
 * through applySettlement (one transaction, exactly once; ledger.ts).
 *
 * Environment: BATON_URL, BATON_KEY, SETTLE_LEDGER (the ledger file),
 * SETTLE_WORKER (a name), SETTLE_SABOTAGE=1 (no exactly-once marker),
 * SETTLE_FAULTS (JSON: which match gets which injected fault; each fires once,
 * across all processes, recorded in the ledger's faults table):
 *   throwAfterCommit  the handler throws a plain Error after the ledger committed: baton retries
 *   holdAfterCommit   after the commit the process tells main.ts and waits; main.ts kills it with
 *                     SIGKILL, so the job is never settled and its lease runs out
 *   crashMidTx        the process SIGKILLs itself inside the ledger transaction, half the
 *                     players' rows written: the transaction never commits
 *   deadAfterCommit   an UnrecoverableError after the commit: the job is dead at once (for a replay)
 * Messages to main.ts (IPC): ready, delivery (what each delivery did), hold.
 */
import { Worker, UnrecoverableError } from "baton-client";
import { LedgerConflict, applySettlement, fireOnce, getMeta, openLedger } from "./ledger.js";

export interface SettlePayload {
  run: string;
  matchId: string;
  statusTs: number;
  score: { home: number; away: number };
  resultHash: string;
}

export interface SettleResult {
  outcome: "applied" | "skipped";
  matchId: string;
  statusTs: number;
  players?: number;
  pointsTotal?: number;
  ledgerMs?: number; // the ledger transaction's duration
  appliedBy?: { jobId: string; attempt: number };
  worker: string;
}

export interface Faults {
  throwAfterCommit?: string;
  holdAfterCommit?: string;
  crashMidTx?: string;
  deadAfterCommit?: string;
}

export type ChildMessage =
  | { type: "ready"; worker: string; pid: number }
  | { type: "delivery"; worker: string; pid: number; jobId: string; attempt: number; matchId: string; outcome: string; detail: string }
  | { type: "hold"; worker: string; pid: number; jobId: string; attempt: number; matchId: string };

const url = process.env.BATON_URL ?? "http://127.0.0.1:7700";
const key = process.env.BATON_KEY;
const ledgerPath = process.env.SETTLE_LEDGER;
const name = process.env.SETTLE_WORKER ?? "w";
const sabotage = process.env.SETTLE_SABOTAGE === "1";
const faults: Faults = JSON.parse(process.env.SETTLE_FAULTS ?? "{}") as Faults;
if (!ledgerPath) throw new Error("SETTLE_LEDGER must name the ledger file");

const db = openLedger(ledgerPath);
const run = getMeta(db, "run"); // the run this ledger belongs to
const workerId = `stl-settle-${name}-${process.pid}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tell = (m: ChildMessage) => { if (process.send) process.send(m); };

function checkPayload(p: unknown): SettlePayload {
  const o = p as SettlePayload | null;
  if (!o || typeof o.matchId !== "string" || typeof o.statusTs !== "number" || typeof o.resultHash !== "string" ||
      !o.score || typeof o.score.home !== "number" || typeof o.score.away !== "number")
    throw new UnrecoverableError(`malformed settlement payload ${JSON.stringify(p)}`);
  return o;
}

const worker = new Worker<unknown, SettleResult>({
  url, key, queue: "stl-settle", concurrency: 2, waitMs: 1000, workerId,
  labels: { role: "settlement", name },
  handler: async (job, ctx) => {
    const p = checkPayload(job.payload);
    // A job left over from an earlier run (its lease expired after that run ended) is not this ledger's.
    if (p.run !== run) throw new UnrecoverableError(`settlement of run ${p.run}, not of this ledger's run ${run}`);
    const s = { matchId: p.matchId, statusTs: p.statusTs, score: p.score, resultHash: p.resultHash,
                key: `settlement:${p.matchId}:${p.statusTs}` };
    const d = { jobId: job.id, attempt: job.attempt, worker: workerId, pid: process.pid };
    await ctx.progress(5, "load", `match ${p.matchId}`);
    let midway: (() => void) | undefined;
    if (faults.crashMidTx === p.matchId && fireOnce(db, "crashMidTx", p.matchId, d))
      midway = () => { process.kill(process.pid, "SIGKILL"); };
    let out;
    const t = performance.now();
    try {
      out = applySettlement(db, s, d, { sabotage, midway });
    } catch (e) {
      if (e instanceof LedgerConflict) {
        tell({ type: "delivery", worker: name, pid: process.pid, jobId: job.id, attempt: job.attempt, matchId: p.matchId, outcome: "conflict", detail: e.message });
        throw new UnrecoverableError(`ledger conflict: ${e.message}`);
      }
      throw e;
    }
    const ledgerMs = Math.round(performance.now() - t);
    const detail = out.outcome === "applied"
      ? `${out.players} players, ${out.pointsTotal} points, ledger transaction ${ledgerMs} ms`
      : `already applied by job ${out.appliedBy.jobId} attempt ${out.appliedBy.attempt}`;
    tell({ type: "delivery", worker: name, pid: process.pid, jobId: job.id, attempt: job.attempt, matchId: p.matchId, outcome: out.outcome, detail });
    if (out.outcome === "applied") {
      if (faults.throwAfterCommit === p.matchId && fireOnce(db, "throwAfterCommit", p.matchId, d))
        throw new Error("injected: the ledger committed, then the scoreboard projection refresh failed");
      if (faults.deadAfterCommit === p.matchId && fireOnce(db, "deadAfterCommit", p.matchId, d))
        throw new UnrecoverableError("injected: the ledger committed, then an unrecoverable error (dead letter)");
      if (faults.holdAfterCommit === p.matchId && fireOnce(db, "holdAfterCommit", p.matchId, d)) {
        tell({ type: "hold", worker: name, pid: process.pid, jobId: job.id, attempt: job.attempt, matchId: p.matchId });
        await sleep(30000); // main.ts kills this process long before
        throw new Error("holdAfterCommit: this process was not killed");
      }
    }
    await ctx.progress(100, "done", out.outcome);
    return out.outcome === "applied"
      ? { outcome: "applied", matchId: p.matchId, statusTs: p.statusTs, players: out.players, pointsTotal: out.pointsTotal, ledgerMs, worker: workerId }
      : { outcome: "skipped", matchId: p.matchId, statusTs: p.statusTs, appliedBy: { jobId: out.appliedBy.jobId, attempt: out.appliedBy.attempt }, worker: workerId };
  },
});
worker.on("error", (e) => console.error(`[${name}] worker error:`, e instanceof Error ? e.message : e));

const running = worker.run();
tell({ type: "ready", worker: name, pid: process.pid });

async function shutdown(): Promise<void> {
  await worker.close();
  await running;
  db.close();
  worker.client.close();
  process.exit(0);
}
process.on("message", (m) => { if (m === "close") void shutdown(); });
process.on("disconnect", () => void shutdown());
