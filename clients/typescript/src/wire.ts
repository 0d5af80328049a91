/*
 * wire.ts: the one mapping layer between the client's camelCase objects and the
 * API's snake_case JSON.
 *
 * Every member name is converted (`idempotencyKey` <-> `idempotency_key`,
 * `retryInMs` <-> `retry_in_ms`), recursively, except inside the members that
 * hold the caller's own data, which travel exactly as sent and as stored:
 * `payload`, `result` (also a parent's result), `progress`, a worker's
 * `labels` and an audit entry's `detail` (what the request asked, verbatim).
 * Date values become RFC 3339 strings on the way out; times on the way in stay
 * strings (the API's RFC 3339 UTC with milliseconds), so nothing is lost.
 * Members whose value is undefined are left out, so an option left unset is
 * never sent (the API refuses nothing for that, and applies its default).
 */

const OPAQUE = new Set(["payload", "result", "progress", "labels", "detail"]);

const snakeCache = new Map<string, string>();
const camelCache = new Map<string, string>();

export function toSnake(name: string): string {
  let s = snakeCache.get(name);
  if (s === undefined) {
    s = name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
    snakeCache.set(name, s);
  }
  return s;
}

export function toCamel(name: string): string {
  let s = camelCache.get(name);
  if (s === undefined) {
    s = name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    camelCache.set(name, s);
  }
  return s;
}

/** A camelCase value of the client to the wire's JSON value. */
export function toWire(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toWire);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const wk = toSnake(k);
    out[wk] = OPAQUE.has(wk) ? v : toWire(v);
  }
  return out;
}

/** A JSON value of the wire to the client's camelCase form. */
export function fromWire<T = unknown>(value: unknown): T {
  return convertIn(value) as T;
}

function convertIn(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const a = new Array(value.length);
    for (let i = 0; i < value.length; i++) a[i] = convertIn(value[i]);
    return a;
  }
  const out: Record<string, unknown> = {};
  for (const k in value as Record<string, unknown>) {
    const v = (value as Record<string, unknown>)[k];
    out[k.indexOf("_") < 0 ? k : toCamel(k)] = OPAQUE.has(k) ? v : convertIn(v);
  }
  return out;
}

/** Query parameters from camelCase options: undefined/null left out, arrays joined by commas. */
export function toQuery(params: Record<string, unknown> | undefined): string {
  if (!params) return "";
  const parts: string[] = [];
  for (const k of Object.keys(params)) {
    const v = params[k];
    if (v === undefined || v === null) continue;
    let s: string;
    if (v instanceof Date) s = v.toISOString();
    else if (Array.isArray(v)) s = v.map(String).join(",");
    else s = String(v);
    parts.push(encodeURIComponent(toSnake(k)) + "=" + encodeURIComponent(s));
  }
  return parts.length ? "?" + parts.join("&") : "";
}

/** One path segment, percent-encoded (a queue, key or id of the caller). */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}
