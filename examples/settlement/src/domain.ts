/*
 * domain.ts: the example's made-up but deterministic world: a round of eight
 * matches seen by a simulated provider feed over cron windows, the players'
 * score guesses, the scoring rule and the ranking order. Everything is a pure
 * function of (seed, players, t0), so main.ts computes the expected ledger and
 * ranking on its own, without the ledger or batond, and compares.
 *
 * Assumptions: a window stands for one 5-minute cron tick; window w is observed
 * at t0 + w * 300 s; a match that ends between two ticks carries the instant it
 * ended (its status timestamp, Unix seconds), as a provider's status does.
 */

export type Status = "scheduled" | "live" | "ended" | "postponed";

export const WINDOWS = 6;
export const WINDOW_S = 300;

/** A match of the round as the feed shows it at one window. */
export interface FeedMatch {
  matchId: string;
  home: string;
  away: string;
  status: Status;
  /** When the status last changed (Unix seconds); null before kick-off. */
  statusTs: number | null;
  /** The score so far (null before kick-off); final once ended. */
  score: { home: number; away: number } | null;
}

/** How each match of the round goes, in windows (the numbers are the example's, the scores the seed's). */
interface Timeline {
  matchId: string;
  home: string;
  away: string;
  /** First window that shows it live (or ended, when it skips live). */
  kickoff: number;
  /** First window that shows it ended; null: never within the simulation. */
  ends: number | null;
  /** Shown as postponed from this window on (never plays). */
  postponed?: number;
  note: string;
}

export const TIMELINES: readonly Timeline[] = [
  { matchId: "m101", home: "Lions", away: "Eagles", kickoff: 1, ends: 2, note: "live in window 1, ended in 2" },
  { matchId: "m102", home: "Wolves", away: "Sharks", kickoff: 1, ends: 2, note: "ends in the same window as m101" },
  { matchId: "m103", home: "Bears", away: "Falcons", kickoff: 2, ends: 3, note: "live in 2, ended in 3" },
  { matchId: "m104", home: "Tigers", away: "Owls", kickoff: 4, ends: 4, note: "never seen live: scheduled in 3, ended in 4" },
  { matchId: "m105", home: "Hawks", away: "Bulls", kickoff: 3, ends: 4, note: "live in 3, ended in 4" },
  { matchId: "m106", home: "Foxes", away: "Rams", kickoff: 4, ends: 5, note: "live in 4, ended in 5" },
  { matchId: "m107", home: "Storm", away: "Vipers", kickoff: 4, ends: null, note: "still live after the last window" },
  { matchId: "m108", home: "Giants", away: "Comets", kickoff: 3, ends: null, postponed: 3, note: "postponed in window 3" },
];

export const MATCH_IDS: readonly string[] = TIMELINES.map((t) => t.matchId);

/** A 32-bit mix of a few integers (murmur3's finalizer over a running combination). */
export function mix(...xs: number[]): number {
  let h = 0x2545f491;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Goals from a uniform 32-bit value: 0 (28%), 1 (34%), 2 (22%), 3 (10%), 4 (6%). */
function goals(u: number): number {
  const p = (u % 10000) / 10000;
  return p < 0.28 ? 0 : p < 0.62 ? 1 : p < 0.84 ? 2 : p < 0.94 ? 3 : 4;
}

function matchIndex(matchId: string): number {
  const i = MATCH_IDS.indexOf(matchId);
  if (i < 0) throw new Error(`unknown match ${matchId}`);
  return i;
}

/** The final score of a match (the seed decides it). */
export function finalScore(seed: number, matchId: string): { home: number; away: number } {
  const i = matchIndex(matchId);
  return { home: goals(mix(seed, 7, i, 1)), away: goals(mix(seed, 7, i, 2)) };
}

/** The instant a match ended: between the tick before its end window and that tick. */
export function endedAt(t0: number, t: Timeline): number {
  return t0 + (t.ends! - 1) * WINDOW_S + 41 + 17 * matchIndex(t.matchId);
}

/** The feed as the verifier sees it at window w (1 ... WINDOWS). */
export function feedAt(seed: number, t0: number, w: number): FeedMatch[] {
  return TIMELINES.map((t): FeedMatch => {
    const base = { matchId: t.matchId, home: t.home, away: t.away };
    if (t.postponed !== undefined && w >= t.postponed)
      return { ...base, status: "postponed", statusTs: t0 + (t.postponed - 1) * WINDOW_S + 5, score: null };
    if (w < t.kickoff) return { ...base, status: "scheduled", statusTs: null, score: null };
    const fin = finalScore(seed, t.matchId);
    if (t.ends !== null && w >= t.ends) return { ...base, status: "ended", statusTs: endedAt(t0, t), score: fin };
    // Live: part of the final score so far.
    const sofar = { home: Math.min(fin.home, w - t.kickoff), away: Math.min(fin.away, Math.max(0, w - t.kickoff - 1)) };
    return { ...base, status: "live", statusTs: t0 + (t.kickoff - 1) * WINDOW_S + 30, score: sofar };
  });
}

/** The matches that end within the simulation, with their settlement's identity. */
export function endedMatches(seed: number, t0: number): { matchId: string; statusTs: number; window: number; score: { home: number; away: number } }[] {
  return TIMELINES.filter((t) => t.ends !== null).map((t) => ({
    matchId: t.matchId, statusTs: endedAt(t0, t), window: t.ends!, score: finalScore(seed, t.matchId),
  }));
}

export function settlementKey(matchId: string, statusTs: number): string {
  return `settlement:${matchId}:${statusTs}`;
}

/** The result hash a settlement carries and the ledger keeps: the match's final result, canonically. */
export function resultHash(matchId: string, statusTs: number, score: { home: number; away: number }): string {
  const s = `${matchId}|${statusTs}|${score.home}-${score.away}`;
  return mix(...Array.from(s, (c) => c.charCodeAt(0))).toString(16).padStart(8, "0");
}

/** A player's guess for a match, or null (about 8% of players skip a match). */
export function guessOf(seed: number, player: number, matchId: string): { home: number; away: number } | null {
  const i = matchIndex(matchId);
  const u = mix(seed, player, i, 3);
  if (u % 100 < 8) return null;
  return { home: goals(mix(seed, player, i, 4)), away: goals(mix(seed, player, i, 5)) };
}

/**
 * The scoring rule (a common one in score-guessing games): the exact score is
 * 4 points, the right goal difference 3 (a draw guessed for a draw, say 1-1 for
 * 2-2), the right outcome only (home win, draw, away win) 2, anything else 0.
 */
export const POINTS_EXACT = 4;
export const POINTS_DIFFERENCE = 3;
export const POINTS_OUTCOME = 2;

export interface Delta {
  points: number;
  exact: number; // 1 when the exact score was guessed
  outcome: number; // 1 when the outcome was right (exact included)
}

export function scoreGuess(g: { home: number; away: number }, r: { home: number; away: number }): Delta {
  const exact = g.home === r.home && g.away === r.away;
  const difference = g.home - g.away === r.home - r.away;
  const outcome = Math.sign(g.home - g.away) === Math.sign(r.home - r.away);
  return {
    points: exact ? POINTS_EXACT : difference ? POINTS_DIFFERENCE : outcome ? POINTS_OUTCOME : 0,
    exact: exact ? 1 : 0,
    outcome: outcome ? 1 : 0,
  };
}

export interface Standing {
  player: number;
  points: number;
  exact: number;
  outcome: number;
  matches: number; // settled matches the player had a guess in
}

/**
 * The ranking order, the tie-break stated: points descending, then more
 * exact-score hits, then the lower player id. It is a total order, so ranks
 * are ordinal (1, 2, 3, ...; no shared places).
 */
export function rankCompare(a: Standing, b: Standing): number {
  return b.points - a.points || b.exact - a.exact || a.player - b.player;
}

/**
 * The expected standings after the matches given settle once each, computed
 * player by player straight from the guesses (no ledger, no deltas applied).
 */
export function expectedStandings(seed: number, players: number, settled: { matchId: string; score: { home: number; away: number } }[]): Standing[] {
  const out: Standing[] = [];
  for (let p = 1; p <= players; p++) {
    const s: Standing = { player: p, points: 0, exact: 0, outcome: 0, matches: 0 };
    for (const m of settled) {
      const g = guessOf(seed, p, m.matchId);
      if (g === null) continue;
      const d = scoreGuess(g, m.score);
      s.points += d.points;
      s.exact += d.exact;
      s.outcome += d.outcome;
      s.matches += 1;
    }
    out.push(s);
  }
  return out;
}
