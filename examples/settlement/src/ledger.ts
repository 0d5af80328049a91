/*
 * ledger.ts: the example's own SQLite ledger (better-sqlite3), the platform's
 * source of truth that batond knows nothing about. Several processes open the
 * one file (WAL mode, a busy timeout): main.ts (the verifier and the checks)
 * and each settlement worker process.
 *
 * Tables:
 *   players                  the standings: points, exact hits, outcome hits, settled matches
 *   guesses                  each player's score guess per match (seeded at start)
 *   match_settlement_ledger  the exactly-once marker: one row per applied settlement,
 *                            keyed by (match_id, status_ts), with its result hash
 *   deliveries               every delivery a settlement worker handled and what it did
 *                            (applied / skipped / conflict)
 *   observations             what the verifier saw of each match at each window
 *   verifications            each verification run and its decisions
 *   faults                   the injected faults that fired (each fires once)
 *   meta                     seed, players, t0, run tag, the simulated current window
 *
 * The exactly-once rule: a settlement's deltas and its marker are written in
 * ONE transaction, which first looks the marker up. A redelivery (a retried
 * attempt, a lease lost after the commit, a replay, a second job without the
 * idempotency key) finds the marker and changes nothing; a crash inside the
 * transaction leaves nothing behind, so the next delivery applies it whole.
 * The transaction is BEGIN IMMEDIATE: a deferred one that reads the marker and
 * then writes fails at once with SQLITE_BUSY when another process committed in
 * between (the busy timeout does not apply to that upgrade).
 * Sabotage (SETTLE_SABOTAGE=1) leaves the marker out: the ledger then applies
 * every delivery, which the checks must catch.
 */
import Database from "better-sqlite3";
import { Delta, Standing, scoreGuess } from "./domain.js";

export type DB = Database.Database;

export function openLedger(path: string): DB {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL"); // a commit is on disk before the worker settles the job
  db.pragma("busy_timeout = 20000"); // other processes' transactions are waited for
  return db;
}

const SCHEMA = `
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE players (
  player_id INTEGER PRIMARY KEY,
  points INTEGER NOT NULL DEFAULT 0,
  exact_hits INTEGER NOT NULL DEFAULT 0,
  outcome_hits INTEGER NOT NULL DEFAULT 0,
  settled_matches INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE guesses (
  match_id TEXT NOT NULL, player_id INTEGER NOT NULL, home INTEGER NOT NULL, away INTEGER NOT NULL,
  PRIMARY KEY (match_id, player_id)
) WITHOUT ROWID;
CREATE TABLE match_settlement_ledger (
  match_id TEXT NOT NULL,
  status_ts INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  result_hash TEXT NOT NULL,
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  worker TEXT NOT NULL,
  players INTEGER NOT NULL,
  points_total INTEGER NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (match_id, status_ts)
);
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  match_id TEXT NOT NULL, status_ts INTEGER NOT NULL,
  job_id TEXT NOT NULL, attempt INTEGER NOT NULL, worker TEXT NOT NULL, pid INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'skipped', 'conflict')),
  at TEXT NOT NULL
);
CREATE TABLE observations (
  win INTEGER NOT NULL, match_id TEXT NOT NULL, status TEXT NOT NULL, status_ts INTEGER,
  score TEXT, PRIMARY KEY (win, match_id)
);
CREATE TABLE verifications (
  id INTEGER PRIMARY KEY, win INTEGER NOT NULL, job_id TEXT NOT NULL, cron_run TEXT,
  at TEXT NOT NULL, decisions TEXT NOT NULL
);
CREATE TABLE faults (
  name TEXT PRIMARY KEY, match_id TEXT NOT NULL, job_id TEXT NOT NULL, attempt INTEGER NOT NULL,
  pid INTEGER NOT NULL, at TEXT NOT NULL
);
`;

/** Creates the schema and seeds the players and their guesses (one transaction). */
export function initLedger(db: DB, meta: Record<string, string>, players: number, matches: readonly string[],
  guess: (player: number, matchId: string) => { home: number; away: number } | null): number {
  db.exec(SCHEMA);
  const putMeta = db.prepare("INSERT INTO meta (k, v) VALUES (?, ?)");
  const putPlayer = db.prepare("INSERT INTO players (player_id) VALUES (?)");
  const putGuess = db.prepare("INSERT INTO guesses (match_id, player_id, home, away) VALUES (?, ?, ?, ?)");
  let n = 0;
  db.transaction(() => {
    for (const [k, v] of Object.entries(meta)) putMeta.run(k, v);
    for (let p = 1; p <= players; p++) putPlayer.run(p);
    for (const m of matches)
      for (let p = 1; p <= players; p++) {
        const g = guess(p, m);
        if (g !== null) { putGuess.run(m, p, g.home, g.away); n++; }
      }
  })();
  return n;
}

export function getMeta(db: DB, k: string): string | null {
  const r = db.prepare("SELECT v FROM meta WHERE k = ?").get(k) as { v: string } | undefined;
  return r?.v ?? null;
}

export function setMeta(db: DB, k: string, v: string): void {
  db.prepare("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v").run(k, v);
}

export interface Settlement {
  matchId: string;
  statusTs: number;
  score: { home: number; away: number };
  resultHash: string;
  key: string; // settlement:{matchId}:{statusTs}
}

export interface Delivery {
  jobId: string;
  attempt: number;
  worker: string;
  pid: number;
}

export type ApplyOutcome =
  | { outcome: "applied"; players: number; pointsTotal: number }
  | { outcome: "skipped"; appliedBy: { jobId: string; attempt: number; worker: string; at: string } };

export class LedgerConflict extends Error {}

interface MarkerRow { result_hash: string; job_id: string; attempt: number; worker: string; applied_at: string }

/**
 * Applies one settlement exactly once (see the file's comment). `midway` is
 * called inside the transaction after half the players' rows were written
 * (the fault injection's hook). Throws LedgerConflict when a settlement of the
 * same (match, status timestamp) was applied with another result.
 */
export function applySettlement(db: DB, s: Settlement, d: Delivery, opts: { sabotage: boolean; midway?: () => void }): ApplyOutcome {
  const now = () => new Date().toISOString();
  const findMarker = db.prepare("SELECT result_hash, job_id, attempt, worker, applied_at FROM match_settlement_ledger WHERE match_id = ? AND status_ts = ?");
  const logDelivery = db.prepare("INSERT INTO deliveries (match_id, status_ts, job_id, attempt, worker, pid, outcome, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  const readGuesses = db.prepare("SELECT player_id, home, away FROM guesses WHERE match_id = ? ORDER BY player_id");
  const addDelta = db.prepare("UPDATE players SET points = points + ?, exact_hits = exact_hits + ?, outcome_hits = outcome_hits + ?, settled_matches = settled_matches + 1 WHERE player_id = ?");
  const putMarker = db.prepare("INSERT INTO match_settlement_ledger (match_id, status_ts, idempotency_key, result_hash, job_id, attempt, worker, players, points_total, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

  let conflict: MarkerRow | null = null;
  const out = db.transaction((): ApplyOutcome => {
    const m = opts.sabotage ? undefined : (findMarker.get(s.matchId, s.statusTs) as MarkerRow | undefined);
    if (m !== undefined) {
      if (m.result_hash !== s.resultHash) {
        conflict = m;
        logDelivery.run(s.matchId, s.statusTs, d.jobId, d.attempt, d.worker, d.pid, "conflict", now());
        return { outcome: "skipped", appliedBy: { jobId: m.job_id, attempt: m.attempt, worker: m.worker, at: m.applied_at } };
      }
      logDelivery.run(s.matchId, s.statusTs, d.jobId, d.attempt, d.worker, d.pid, "skipped", now());
      return { outcome: "skipped", appliedBy: { jobId: m.job_id, attempt: m.attempt, worker: m.worker, at: m.applied_at } };
    }
    const rows = readGuesses.all(s.matchId) as { player_id: number; home: number; away: number }[];
    let total = 0;
    rows.forEach((g, i) => {
      if (i === Math.floor(rows.length / 2) && opts.midway) opts.midway();
      const delta: Delta = scoreGuess(g, s.score);
      addDelta.run(delta.points, delta.exact, delta.outcome, g.player_id);
      total += delta.points;
    });
    if (!opts.sabotage)
      putMarker.run(s.matchId, s.statusTs, s.key, s.resultHash, d.jobId, d.attempt, d.worker, rows.length, total, now());
    logDelivery.run(s.matchId, s.statusTs, d.jobId, d.attempt, d.worker, d.pid, "applied", now());
    return { outcome: "applied", players: rows.length, pointsTotal: total };
  }).immediate(); // BEGIN IMMEDIATE: the write lock first, so the marker read and the writes see one state
  if (conflict !== null) {
    const c: MarkerRow = conflict;
    throw new LedgerConflict(`settlement ${s.key} was applied by job ${c.job_id} with result hash ${c.result_hash}; this delivery carries ${s.resultHash}`);
  }
  return out;
}

/** Records a fault as fired; true the first time only (across processes). */
export function fireOnce(db: DB, name: string, matchId: string, d: Delivery): boolean {
  const r = db.prepare("INSERT OR IGNORE INTO faults (name, match_id, job_id, attempt, pid, at) VALUES (?, ?, ?, ?, ?, ?)")
    .run(name, matchId, d.jobId, d.attempt, d.pid, new Date().toISOString());
  return r.changes === 1;
}

/** The verifier's memory: each match's latest observation before window w. */
export function previousObservations(db: DB, w: number): Map<string, { status: string; statusTs: number | null; window: number }> {
  const rows = db.prepare(`
    SELECT o.match_id, o.status, o.status_ts, o.win FROM observations o
    WHERE o.win = (SELECT MAX(win) FROM observations i WHERE i.match_id = o.match_id AND i.win < ?)`).all(w) as
    { match_id: string; status: string; status_ts: number | null; win: number }[];
  return new Map(rows.map((r) => [r.match_id, { status: r.status, statusTs: r.status_ts, window: r.win }]));
}

/** Stores what window w showed, and the run's decisions, in one transaction (a re-run rewrites the same rows). */
export function recordVerification(db: DB, w: number, jobId: string, cronRun: string | null,
  seen: { matchId: string; status: string; statusTs: number | null; score: unknown }[], decisions: unknown): void {
  const put = db.prepare("INSERT INTO observations (win, match_id, status, status_ts, score) VALUES (?, ?, ?, ?, ?) " +
    "ON CONFLICT (win, match_id) DO UPDATE SET status = excluded.status, status_ts = excluded.status_ts, score = excluded.score");
  const log = db.prepare("INSERT INTO verifications (win, job_id, cron_run, at, decisions) VALUES (?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (const m of seen) put.run(w, m.matchId, m.status, m.statusTs, m.score === null ? null : JSON.stringify(m.score));
    log.run(w, jobId, cronRun, new Date().toISOString(), JSON.stringify(decisions));
  }).immediate();
}

export function readStandings(db: DB): Standing[] {
  return (db.prepare("SELECT player_id, points, exact_hits, outcome_hits, settled_matches FROM players ORDER BY player_id").all() as
    { player_id: number; points: number; exact_hits: number; outcome_hits: number; settled_matches: number }[])
    .map((r) => ({ player: r.player_id, points: r.points, exact: r.exact_hits, outcome: r.outcome_hits, matches: r.settled_matches }));
}

/** The ranking as the ledger answers it (the stated order, in SQL). */
export function readRanking(db: DB, limit: number): Standing[] {
  return (db.prepare(`SELECT player_id, points, exact_hits, outcome_hits, settled_matches FROM players
      ORDER BY points DESC, exact_hits DESC, player_id ASC LIMIT ?`).all(limit) as
    { player_id: number; points: number; exact_hits: number; outcome_hits: number; settled_matches: number }[])
    .map((r) => ({ player: r.player_id, points: r.points, exact: r.exact_hits, outcome: r.outcome_hits, matches: r.settled_matches }));
}

export interface MarkerInfo { matchId: string; statusTs: number; key: string; resultHash: string; jobId: string; attempt: number; worker: string; players: number; pointsTotal: number }

export function readMarkers(db: DB): MarkerInfo[] {
  return (db.prepare("SELECT * FROM match_settlement_ledger ORDER BY match_id").all() as
    { match_id: string; status_ts: number; idempotency_key: string; result_hash: string; job_id: string; attempt: number; worker: string; players: number; points_total: number }[])
    .map((r) => ({ matchId: r.match_id, statusTs: r.status_ts, key: r.idempotency_key, resultHash: r.result_hash, jobId: r.job_id,
                   attempt: r.attempt, worker: r.worker, players: r.players, pointsTotal: r.points_total }));
}

export interface DeliveryRow { matchId: string; statusTs: number; jobId: string; attempt: number; worker: string; pid: number; outcome: string; at: string }

export function readDeliveries(db: DB): DeliveryRow[] {
  return (db.prepare("SELECT * FROM deliveries ORDER BY id").all() as
    { match_id: string; status_ts: number; job_id: string; attempt: number; worker: string; pid: number; outcome: string; at: string }[])
    .map((r) => ({ matchId: r.match_id, statusTs: r.status_ts, jobId: r.job_id, attempt: r.attempt, worker: r.worker, pid: r.pid, outcome: r.outcome, at: r.at }));
}

export function readFaults(db: DB): { name: string; matchId: string; jobId: string; attempt: number; pid: number }[] {
  return (db.prepare("SELECT name, match_id, job_id, attempt, pid FROM faults ORDER BY at").all() as
    { name: string; match_id: string; job_id: string; attempt: number; pid: number }[])
    .map((r) => ({ name: r.name, matchId: r.match_id, jobId: r.job_id, attempt: r.attempt, pid: r.pid }));
}
