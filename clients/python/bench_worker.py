#!/usr/bin/env python3
"""Benchmark: the Python Worker processing N no-op jobs; prints one JSON line.

Usage: bench_worker.py [--n 2000] [--concurrency 16] [--url URL --key KEY]
Without --url it starts its own batond ($BATOND, else ./build/batond) on a
temporary data directory with --sync normal and stops it afterwards (by pid).
The jobs are enqueued first in batches of 1,000 (not timed); the time measured
runs from the worker's start to the last job settled, so it is the worker's rate
(claims, handler threads, batched settles), not the producer's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from baton import Client, Worker  # noqa: E402


def start_batond(binary: str):
    data = tempfile.mkdtemp(prefix="baton-bench-")
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--data", data,
                             "--sync", "normal", "--log-level", "warn"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and url is None:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            url = m.group(1)
    if url is None:
        proc.kill()
        raise SystemExit("batond did not start")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    key = open(os.path.join(data, "admin.key")).read().strip()
    return proc, data, url, key


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--url")
    ap.add_argument("--key", default=os.environ.get("BATON_KEY"))
    ap.add_argument("--batond", default=os.environ.get("BATOND", "build/batond"))
    a = ap.parse_args()
    proc = data = None
    if a.url:
        url, key = a.url, a.key
    else:
        proc, data, url, key = start_batond(a.batond)
    try:
        c = Client(url, key)
        q = f"bench-{os.getpid()}-{int(time.time())}"
        left = a.n
        while left:
            k = min(left, 1000)
            c.enqueue_jobs([{"queue": q, "type": "noop"}] * k, minimal=True)
            left -= k
        done = threading.Event()
        count = [0]
        lock = threading.Lock()

        def completed(job, result):
            with lock:
                count[0] += 1
                if count[0] >= a.n:
                    done.set()

        w = Worker(c, queue=q, concurrency=a.concurrency, claim_wait_ms=1000,
                   handler=lambda job, ctx: None, on_completed=completed)
        t0 = time.monotonic()
        th = threading.Thread(target=w.run)
        th.start()
        done.wait(600)
        elapsed = time.monotonic() - t0
        w.close()
        th.join(30)
        print(json.dumps({"bench": "python_worker_noop", "jobs": count[0],
                          "concurrency": a.concurrency, "seconds": round(elapsed, 3),
                          "jobs_per_s": round(count[0] / elapsed, 1),
                          "settle_requests": w.stats["settle_requests"],
                          "python": sys.version.split()[0]}))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
