/*
 * checks.ts: the example's checked claims. Each claim is printed as PASS or
 * FAIL with the figures it was judged on; main.ts exits 1 when any failed.
 * Assumption: claims are judged on data read back from batond (job timestamps,
 * states, results) or measured in the worker, never on what the example asked for.
 */

export interface Claim {
  section: string;
  text: string;
  ok: boolean;
  detail: string;
}

const claims: Claim[] = [];
let section = "";

export function beginSection(name: string): void {
  section = name;
  console.log(`\n=== ${name}`);
}

/** Records and prints one claim; returns ok so callers can branch on it. */
export function claim(text: string, ok: boolean, detail = ""): boolean {
  claims.push({ section, text, ok, detail });
  console.log(`  [${ok ? "PASS" : "FAIL"}] ${text}${detail ? `  (${detail})` : ""}`);
  return ok;
}

export function info(line: string): void {
  console.log(`  ${line}`);
}

export function allClaims(): readonly Claim[] {
  return claims;
}
