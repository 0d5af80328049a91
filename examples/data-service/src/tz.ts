/*
 * tz.ts: wall-clock arithmetic in an IANA zone with Node's Intl, used to check
 * batond's cron fire times independently of its own tz code.
 * Assumption: Node is built with full ICU (the default for Node 18+), so
 * Intl.DateTimeFormat knows Europe/London's BST/GMT rules.
 */

export interface Wall {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  zoneName: string; // "GMT", "BST", ...
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall time of an instant in a zone. */
export function wallOf(ms: number, tz: string): Wall {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(new Date(ms))) parts[p.type] = p.value;
  return {
    year: Number(parts.year), month: Number(parts.month), day: Number(parts.day),
    hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second),
    zoneName: parts.timeZoneName ?? "",
  };
}

/** The zone's offset from UTC at an instant, in ms (BST: +3600000). */
export function offsetAt(ms: number, tz: string): number {
  const w = wallOf(ms, tz);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant of a wall time in a zone, with cron's usual DST rules: in a
 * fold, the first (earlier) instant; in a gap, the wall time moved forward by
 * the gap's length (read with the offset in force before the gap).
 */
export function instantOf(year: number, month: number, day: number, hour: number, minute: number, tz: string): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  const before = offsetAt(asUtc - 86400000, tz);
  const after = offsetAt(asUtc + 86400000, tz);
  const valid: number[] = [];
  for (const off of new Set([before, after])) {
    const t = asUtc - off;
    const w = wallOf(t, tz);
    if (w.year === year && w.month === month && w.day === day && w.hour === hour && w.minute === minute) valid.push(t);
  }
  if (valid.length > 0) return Math.min(...valid);
  return asUtc - before; // the gap
}

/** "2026-03-29 03:30 BST" */
export function showWall(ms: number, tz: string): string {
  const w = wallOf(ms, tz);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${w.year}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)} ${w.zoneName}`;
}
