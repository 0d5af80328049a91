/*
 * domain.ts: the sports data the example's jobs "ingest", made up but
 * deterministic, so main.ts can compute every expected result on its own and
 * compare it with what the flow's jobs returned through batond.
 * A gameweek has 10 fixtures; each fixture has two lineups of 11 players; a
 * player's points in a gameweek are a fixed function of (player, gameweek),
 * from -2 to 12, as fantasy scores are.
 */

export const FIXTURES_PER_GAMEWEEK = 10;
export const PLAYERS_PER_SIDE = 11;

export interface FixturesResult {
  gameweek: number;
  fixtures: number[]; // fixture ids
}

export interface LineupsResult {
  gameweek: number;
  fixtures: number;
  players: number[]; // player ids, every starter of every fixture
}

export interface PointsResult {
  gameweek: number;
  players: number;
  totalPoints: number;
  top: { player: number; points: number }; // highest points, lowest id on a tie
}

export function fixturesOf(gameweek: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= FIXTURES_PER_GAMEWEEK; i++) out.push(gameweek * 100 + i);
  return out;
}

/** The starters of one fixture: home side 0, away side 1, 11 players each. */
export function startersOf(fixture: number): number[] {
  const out: number[] = [];
  const match = fixture % 100; // 1..10: 20 teams, 2 per fixture
  for (let side = 0; side < 2; side++) {
    const team = (match - 1) * 2 + side; // 0..19
    for (let k = 0; k < PLAYERS_PER_SIDE; k++) out.push(team * 30 + ((fixture + k * 7) % 30) + 1);
  }
  return out;
}

export function pointsOf(player: number, gameweek: number): number {
  return ((player * 31 + gameweek * 17) % 15) - 2;
}

/** What the whole pipeline must produce for a gameweek, computed directly. */
export function expectedPoints(gameweek: number): PointsResult {
  const players = fixturesOf(gameweek).flatMap(startersOf);
  return scorePlayers(gameweek, players);
}

export function scorePlayers(gameweek: number, players: number[]): PointsResult {
  let total = 0;
  let top = { player: 0, points: -Infinity };
  for (const p of players) {
    const pts = pointsOf(p, gameweek);
    total += pts;
    if (pts > top.points || (pts === top.points && p < top.player)) top = { player: p, points: pts };
  }
  return { gameweek, players: players.length, totalPoints: total, top };
}
