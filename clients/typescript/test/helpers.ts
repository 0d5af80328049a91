/*
 * helpers.ts: starts a real batond for a test file and stops it afterwards.
 *
 * Assumes BATOND names the binary (run_tests.sh sets it). The server listens on
 * 127.0.0.1 port 0 with --sync normal in a fresh temp directory; its URL comes
 * from the "listening on http://..." line on stdout and the admin key from
 * <data>/admin.key. Every wait is bounded (start: 100 x 50 ms of /healthz;
 * stop: SIGTERM, 5 s, then SIGKILL).
 */
import { spawn, ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as http from "node:http";

export interface Server {
  url: string;
  adminKey: string;
  dir: string;
  proc: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function healthz(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url + "/healthz", (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.setTimeout(1000, () => {
      req.destroy();
      resolve(false);
    });
  });
}

export async function startServer(extra: string[] = []): Promise<Server> {
  const bin = process.env.BATOND;
  if (!bin) throw new Error("BATOND is not set (the batond binary to test)");
  const dir = mkdtempSync(join(tmpdir(), "baton-ts-"));
  const proc = spawn(bin, ["--listen", "127.0.0.1:0", "--data", dir, "--sync", "normal", "--log-level", "warn", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  let url: string | null = null;
  for (let i = 0; i < 100 && url === null; i++) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) url = m[1]!;
    else if (proc.exitCode !== null) break;
    else await sleep(50);
  }
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      for (let i = 0; i < 100 && proc.exitCode === null && proc.signalCode === null; i++) await sleep(50);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  if (url === null) {
    await stop();
    throw new Error(`batond did not start: ${out}`);
  }
  let ok = false;
  for (let i = 0; i < 100 && !ok; i++) {
    ok = await healthz(url);
    if (!ok) await sleep(50);
  }
  if (!ok) {
    await stop();
    throw new Error(`batond /healthz never answered: ${out}`);
  }
  const adminKey = readFileSync(join(dir, "admin.key"), "utf8").trim();
  return { url, adminKey, dir, proc, log: () => out, stop };
}

/** Polls cond every 20 ms until true or limitMs passed; answers whether it held. */
export async function waitFor(cond: () => boolean | Promise<boolean>, limitMs = 5000): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(20);
  }
  return await cond();
}

let uniq = 0;
/** A queue name unique to this process, so tests of one file do not see each other's jobs. */
export function qname(prefix: string): string {
  uniq++;
  return `${prefix}-${process.pid}-${uniq}`;
}
