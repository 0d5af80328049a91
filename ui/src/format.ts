// format.ts: times shown relative ("3 min ago", "in 2 h") with the absolute
// instant beside or in the title, durations and counts.

export function parseTime(s: string | null | undefined): number | null {
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

export function relative(ms: number, now = Date.now()): string {
  const d = ms - now;
  const a = Math.abs(d);
  let v: string;
  if (a < 1000) return 'now';
  if (a < 60_000) v = Math.round(a / 1000) + ' s';
  else if (a < 3_600_000) v = Math.round(a / 60_000) + ' min';
  else if (a < 86_400_000) v = (a / 3_600_000).toFixed(a < 36_000_000 ? 1 : 0) + ' h';
  else v = Math.round(a / 86_400_000) + ' d';
  return d < 0 ? v + ' ago' : 'in ' + v;
}

export function absolute(ms: number, timeZone?: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, {
      year: 'numeric',
      month: 'short',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZone,
      timeZoneName: 'short',
    }).format(ms);
  } catch {
    return new Date(ms).toISOString();
  }
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return ms + ' ms';
  if (ms < 60_000) return (ms / 1000).toFixed(ms < 10_000 ? 2 : 1) + ' s';
  if (ms < 3_600_000) return Math.floor(ms / 60_000) + ' min ' + Math.round((ms % 60_000) / 1000) + ' s';
  return (ms / 3_600_000).toFixed(1) + ' h';
}

export function num(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString();
}

export function pretty(v: unknown): string {
  return JSON.stringify(v, null, 2) ?? 'null';
}
