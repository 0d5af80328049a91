#!/usr/bin/env python3
"""The client libraries' benchmarks beside BullMQ, in one run on one machine.

  bench/clients/side_by_side.py --batond build-bench/batond [--n 100000] [--out FILE.json]

Issue 17's figures: the TypeScript Worker processing no-op jobs (concurrency 100)
against BullMQ's Worker (concurrency 100), and client.enqueue() from 32 concurrent
callers (coalescing on) against BullMQ's queue.add() from 32 concurrent callers;
the Go and Python workers' processing rates beside them. BullMQ runs on Redis with
appendfsync everysec, driven by ../shared/peerbench/bench_bullmq.js (the same
program side_by_side.py of peerbench uses); baton runs with --sync full, a fresh
data directory for each client. Needs redis-server (apt-get install redis-server)
and the clients built: `npm run build` in clients/typescript (run_tests.sh does it).
Every server binds 127.0.0.1 and is stopped by its pid; every step is bounded in
time. Benchmarks report, they are not tests: run it on a quiet machine.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER = os.path.join(os.path.dirname(ROOT), "shared", "peerbench")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, cwd, timeout_s, env=None):
    """Runs cmd in a process group of its own, killed whole on timeout; its stdout."""
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True, env=env)
    try:
        out, err = p.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        sys.exit(f"timed out after {timeout_s} s: {' '.join(cmd)}")
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return out


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


class Batond:
    """One batond on a free loopback port with a fresh data directory."""

    def __init__(self, binary, args):
        self.data = tempfile.mkdtemp(prefix="clients-bench-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.data, "batond.log"), "ab")
        self.p = subprocess.Popen([binary, "--listen", f"127.0.0.1:{self.port}",
                                   "--data", self.data] + args,
                                  stdout=self.log, stderr=self.log,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        keyf = os.path.join(self.data, "admin.key")
        for _ in range(200):
            if os.path.exists(keyf):
                try:
                    socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        self.key = open(keyf).read().strip()

    def stop(self):
        os.killpg(self.p.pid, signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        shutil.rmtree(self.data, ignore_errors=True)


def with_batond(binary, args, fn):
    b = Batond(binary, args)
    try:
        return fn(b)
    finally:
        b.stop()


def peer_copy():
    """peerbench copied to a scratch folder (it may be read-only), with its
    node_modules from the cache side_by_side.py of peerbench fills (npm ci)."""
    work = tempfile.mkdtemp(prefix="clients-peer-")
    for f in os.listdir(PEER):
        if f in ("results", "run", "data", "pgdata", "logs", "node_modules"):
            continue
        src = os.path.join(PEER, f)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(work, f))
    cache = os.path.join(os.path.expanduser("~"), ".cache", "baton-peerbench")
    lock = open(os.path.join(PEER, "package-lock.json")).read()
    stamp = os.path.join(cache, "package-lock.json")
    if not (os.path.isdir(os.path.join(cache, "node_modules")) and os.path.exists(stamp)
            and open(stamp).read() == lock):
        shutil.rmtree(cache, ignore_errors=True)
        os.makedirs(cache)
        for f in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(PEER, f), cache)
        run(["npm", "ci", "--no-audit", "--no-fund"], cache, 600)
    os.symlink(os.path.join(cache, "node_modules"), os.path.join(work, "node_modules"))
    return work


def bullmq(n):
    work = peer_copy()
    log = open(os.path.join(work, "servers.log"), "ab")
    try:
        subprocess.run(["./servers.sh", "start", "redis-aof"], cwd=work, stdout=log,
                       stderr=log, timeout=60, check=True)
        out = run(["node", "bench_bullmq.js", "--config=aof", "--conc=100", f"--n={n}",
                   f"--single_n={n}", "--rep=clients"], work, 900)
        return last_json(out)
    finally:
        subprocess.run(["./servers.sh", "stop", "redis-aof"], cwd=work, stdout=log,
                       stderr=log, timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def go_bench_binary(tmp):
    out = os.path.join(tmp, "batonbench")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off",
               GOCACHE=os.environ.get("GOCACHE", os.path.join(tmp, "gocache")))
    run(["go", "build", "-o", out, "./cmd/batonbench"], os.path.join(ROOT, "clients", "go"),
        300, env)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batond", required=True)
    ap.add_argument("--batond-args", default="--sync full")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--py-n", type=int, default=20000)
    ap.add_argument("--out")
    a = ap.parse_args()
    binary = os.path.abspath(a.batond)
    args = a.batond_args.split()
    tmp = tempfile.mkdtemp(prefix="clients-bench-build-")
    ts = os.path.join(ROOT, "bench", "clients", "ts_bench.mjs")
    res = {"n": a.n, "batond_args": a.batond_args}
    res["ts"] = with_batond(binary, args, lambda b: last_json(run(
        ["node", ts, f"--url={b.url}", f"--key={b.key}", f"--n={a.n}",
         f"--pid={b.p.pid}"], ROOT, 900)))
    gob = go_bench_binary(tmp)
    res["go_process"] = with_batond(binary, args, lambda b: last_json(run(
        [gob, f"-url={b.url}", f"-key={b.key}", f"-n={a.n}", "-concurrency=100"], ROOT,
        900)))
    res["py_process"] = with_batond(binary, args, lambda b: last_json(run(
        ["/usr/bin/python3", os.path.join(ROOT, "clients", "python", "bench_worker.py"),
         f"--url={b.url}", f"--key={b.key}", f"--n={a.py_n}", "--concurrency=100"], ROOT,
        900)))
    res["bullmq"] = bullmq(a.n)
    shutil.rmtree(tmp, ignore_errors=True)
    q = res["bullmq"]
    t = res["ts"]
    rows = [("Worker processing, concurrency 100 (TS)", t["process"]["jobs_per_s"],
             q["process"]["jobs_per_s"]),
            ("enqueue() from 32 callers (TS, coalesced)",
             t["enqueue_single_inflightN"]["jobs_per_s"],
             q["enqueue_single_inflightN"]["jobs_per_s"]),
            ("bulk enqueue, batches of 1,000 (TS)", t["enqueue_bulk"]["jobs_per_s"],
             q["enqueue_bulk"]["jobs_per_s"]),
            ("Go Worker processing, concurrency 100", res["go_process"]["worker_jobs_per_s"],
             q["process"]["jobs_per_s"]),
            ("Go Enqueue() from 32 callers (coalesced)",
             res["go_process"]["coalesced_enqueue_jobs_per_s"],
             q["enqueue_single_inflightN"]["jobs_per_s"]),
            ("Python Worker processing, concurrency 100", res["py_process"]["jobs_per_s"],
             q["process"]["jobs_per_s"])]
    res["ratios"] = {}
    print(f"{'figure':44} {'baton':>10} {'BullMQ':>10} {'ratio':>7}")
    for name, bv, qv in rows:
        res["ratios"][name] = bv / qv if qv else None
        print(f"{name:44} {round(bv):>10} {round(qv):>10} {bv / qv:>6.2f}x")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
