/*
 * http.ts: the transport of baton-client: one HTTP(S) request to batond over
 * Node's own http/https modules with a keep-alive Agent (no fetch, so it runs
 * on Node 18 without flags and reuses connections).
 *
 * - Answers that are not 2xx become BatonError from the API's error shape.
 * - 429 and 503 are retried after their Retry-After (the server says nothing
 *   was done for those), at most `maxRetries` times and while the total time
 *   waited stays within `retryBudgetMs`; the caller sets both.
 * - A request that fails on a reused keep-alive socket before any answer
 *   (ECONNRESET/EPIPE: the server closed an idle connection as we wrote) is
 *   sent again once on a fresh socket: the server had not read it.
 * - Every request has a timeout (plus the long-poll wait a call asks for).
 */
import * as http from "node:http";
import * as https from "node:https";
import { BatonError } from "./errors.js";

export interface TransportOptions {
  url: string;
  key?: string | undefined;
  timeoutMs?: number | undefined;
  maxRetries?: number | undefined;
  retryBudgetMs?: number | undefined;
  agent?: http.Agent | undefined;
  maxSockets?: number | undefined;
  headers?: Record<string, string> | undefined;
}

export interface RequestOptions {
  /** JSON text of the body (already serialized), or undefined for none. */
  body?: string | undefined;
  requestId?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Added to the request timeout: the server may hold the answer this long (wait_ms). */
  waitMs?: number | undefined;
  timeoutMs?: number | undefined;
  prefer?: string | undefined;
  /** The answer is text (GET /metrics), not JSON. */
  text?: boolean | undefined;
  /** Retries of 429/503 allowed for this call (overrides the client's). */
  maxRetries?: number | undefined;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body (or the text when `text` was asked). */
  body: any;
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(v: string | string[] | undefined): number | null {
  if (v === undefined) return null;
  const s = (Array.isArray(v) ? v[0] : v)?.trim() ?? "";
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  if (!Number.isNaN(t)) return Math.max(0, t - Date.now());
  return null;
}

export class Transport {
  readonly base: URL;
  private readonly mod: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly ownAgent: boolean;
  private readonly auth: string | undefined;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly retryBudgetMs: number;
  private readonly extraHeaders: Record<string, string>;
  private readonly basePath: string;

  constructor(o: TransportOptions) {
    this.base = new URL(o.url);
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:") {
      throw new TypeError(`url must be http:// or https://, got ${o.url}`);
    }
    this.mod = this.base.protocol === "https:" ? https : http;
    this.ownAgent = o.agent === undefined;
    this.agent =
      o.agent ??
      new this.mod.Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 256, keepAliveMsecs: 1000 });
    this.auth = o.key ? `Bearer ${o.key}` : undefined;
    this.timeoutMs = o.timeoutMs ?? 30000;
    this.maxRetries = o.maxRetries ?? 3;
    this.retryBudgetMs = o.retryBudgetMs ?? 30000;
    this.extraHeaders = o.headers ?? {};
    this.basePath = this.base.pathname.replace(/\/+$/, "");
  }

  /** Closes the idle keep-alive sockets of the client's own agent. */
  close(): void {
    if (this.ownAgent) this.agent.destroy();
  }

  async request(method: string, path: string, o: RequestOptions = {}): Promise<Answer> {
    let waited = 0;
    const maxRetries = o.maxRetries ?? this.maxRetries;
    for (let attempt = 0; ; attempt++) {
      const ans = await this.once(method, path, o, true);
      if (ans.status >= 200 && ans.status < 300) return ans;
      const err = toError(ans);
      if ((ans.status === 429 || ans.status === 503) && attempt < maxRetries) {
        let delay = err.retryAfterMs ?? 1000;
        // A little spread so that many callers refused together do not return together.
        delay += Math.floor(Math.random() * Math.min(250, delay / 10 + 1));
        if (waited + delay <= this.retryBudgetMs) {
          waited += delay;
          await sleep(delay, o.signal);
          continue;
        }
      }
      throw err;
    }
  }

  private once(method: string, path: string, o: RequestOptions, mayResend: boolean): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      if (o.signal?.aborted) {
        reject(abortError(o.signal));
        return;
      }
      const headers: Record<string, string | number> = { ...this.extraHeaders, Accept: "application/json" };
      if (this.auth) headers["Authorization"] = this.auth;
      if (o.requestId) headers["X-Request-Id"] = o.requestId;
      if (o.prefer) headers["Prefer"] = o.prefer;
      let data: Buffer | undefined;
      if (o.body !== undefined) {
        data = Buffer.from(o.body, "utf8");
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = data.length;
      }
      const timeout = (o.timeoutMs ?? this.timeoutMs) + (o.waitMs ?? 0);
      let done = false;
      const req = this.mod.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname,
          port: this.base.port,
          method,
          path: this.basePath + path,
          headers,
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => fail(e));
          res.on("end", () => {
            if (done) return;
            done = true;
            cleanup();
            const txt = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            let body: unknown = null;
            const ctype = String(res.headers["content-type"] ?? "");
            if (o.text && status >= 200 && status < 300) body = txt;
            else if (txt.length > 0 && (ctype.includes("json") || txt[0] === "{")) {
              try {
                body = JSON.parse(txt);
              } catch {
                body = txt;
              }
            } else body = txt;
            resolve({ status, headers: res.headers, body });
          });
        },
      );
      const onAbort = () => {
        if (done) return;
        done = true;
        req.destroy();
        cleanup();
        reject(abortError(o.signal!));
      };
      const cleanup = () => {
        o.signal?.removeEventListener("abort", onAbort);
      };
      const fail = (e: Error & { code?: string }) => {
        if (done) return;
        done = true;
        cleanup();
        if (mayResend && (req as any).reusedSocket && (e.code === "ECONNRESET" || e.code === "EPIPE")) {
          this.once(method, path, o, false).then(resolve, reject);
          return;
        }
        reject(
          new BatonError({
            status: 0,
            code: "connection_error",
            message: `${method} ${path}: ${e.message}`,
            cause: e,
          }),
        );
      };
      o.signal?.addEventListener("abort", onAbort, { once: true });
      req.setTimeout(timeout, () => {
        if (done) return;
        done = true;
        cleanup();
        req.destroy();
        reject(new BatonError({ status: 0, code: "timeout", message: `${method} ${path}: no answer within ${timeout} ms` }));
      });
      req.on("error", fail);
      if (data) req.end(data);
      else req.end();
    });
  }
}

function toError(ans: Answer): BatonError {
  const e = ans.body && typeof ans.body === "object" ? ans.body.error : undefined;
  const rid = ans.headers["x-request-id"];
  return new BatonError({
    status: ans.status,
    code: (e && typeof e.code === "string" && e.code) || `http_${ans.status}`,
    message: (e && typeof e.message === "string" && e.message) || `HTTP ${ans.status}`,
    field: e && typeof e.field === "string" ? e.field : null,
    jobId: e && e.job_id != null ? String(e.job_id) : null,
    retryAfterMs: parseRetryAfter(ans.headers["retry-after"]),
    requestId: typeof rid === "string" ? rid : null,
  });
}

function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error("the operation was aborted");
  e.name = "AbortError";
  return e;
}

/** Sleeps ms, or rejects early when signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
