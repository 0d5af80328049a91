#!/usr/bin/env python3
"""What each index of SQLite's jobs table costs a claim and a settle.

  bench/sqlite_index_cost.py --batond build-bench/batond [--jobs 20000] [--updates 10000]

It starts batond on a fresh data directory (127.0.0.1, a free port, stopped by its
pid), enqueues --jobs no-op jobs in batches of 1,000, stops it and copies its
database. Then, for the schema as it is and for each index of `jobs` dropped in
turn, it replays --updates claims and as many settles (the UPDATE statements of
job_update_run and job_update_settle, with the run columns a claim and a settle
write; 100 per transaction) under valgrind's callgrind, counting the
instructions spent inside sqlite3_step only. Instruction counts do not depend on
what else the machine is doing, so the difference to the full schema is what
maintaining that index costs per update, even on a busy machine. It prints one
line per variant. Needs valgrind; Python's sqlite3 module uses the same
libsqlite3 as batond on Debian.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

CLAIM = ("UPDATE jobs SET state = 3, run_at = ?2, attempt = 1, lease = ?3, lease_until = ?4,"
         " worker = 'w1', settled = 0, cancel_requested = 0, started_at = ?2, finished_at = 0,"
         " ready_at = ready_at, result = NULL, last_error = NULL, progress = NULL,"
         " attempts = ?5, steps = NULL, cancel_reason = NULL WHERE id = ?1")
# A settle leaves worker out (job_update_settle).
SETTLE = ("UPDATE jobs SET state = 5, run_at = ?2, attempt = 1, lease = NULL, lease_until = 0,"
          " settled = 1, cancel_requested = 0, started_at = ?2, finished_at = ?2,"
          " ready_at = ready_at, result = '{}', last_error = NULL, progress = NULL,"
          " attempts = ?3, steps = NULL, cancel_reason = NULL WHERE id = ?1")
ATTEMPTS = '[{"attempt":1,"worker":"w1","started_at":"2026-12-07T20:56:40.670Z"}]'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_db(batond, jobs, out_db):
    data = tempfile.mkdtemp(prefix="idxcost-")
    port = free_port()
    p = subprocess.Popen([batond, "--listen", f"127.0.0.1:{port}", "--data", data,
                          "--sync", "normal"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        keyf = os.path.join(data, "admin.key")
        for _ in range(200):
            if os.path.exists(keyf):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        key = open(keyf).read().strip()
        for start in range(0, jobs, 1000):
            body = json.dumps({"jobs": [{"queue": "q", "type": "noop", "payload": {"i": i}}
                                        for i in range(start, min(jobs, start + 1000))]})
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/jobs", body.encode(),
                                         {"Authorization": f"Bearer {key}",
                                          "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                assert r.status == 201, r.status
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    shutil.copy(os.path.join(data, "baton.db"), out_db)
    shutil.rmtree(data, ignore_errors=True)


def replay(db, drop, updates):
    """The measured part, run under callgrind: drops the indexes named, then
    claims and settles the first `updates` jobs."""
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("PRAGMA synchronous = OFF")
    for d in drop:
        c.execute(f"DROP INDEX {d}")
    ids = [r[0] for r in c.execute("SELECT id FROM jobs ORDER BY id LIMIT ?", (updates,))]
    for sql, args in ((CLAIM, lambda i: (i, 1765000000000, "ab" * 16, 1765000030000, ATTEMPTS)),
                      (SETTLE, lambda i: (i, 1765000000000, ATTEMPTS))):
        c.execute("BEGIN")
        for n, i in enumerate(ids):
            c.execute(sql, args(i))
            if n % 100 == 99:
                c.execute("COMMIT")
                c.execute("BEGIN")
        c.execute("COMMIT")
    c.close()


def measure(db, drop, updates, tmp):
    work = os.path.join(tmp, "m.db")
    shutil.copy(db, work)
    for ext in ("-wal", "-shm"):
        if os.path.exists(work + ext):
            os.remove(work + ext)
    out = os.path.join(tmp, "cg.out")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    "--toggle-collect=sqlite3_step", sys.executable, os.path.abspath(__file__),
                    "--replay", work, "--drop", ",".join(drop), "--updates", str(updates)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    with open(out) as f:
        m = re.search(r"^summary:\s+(\d+)", f.read(), re.M)
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batond")
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--updates", type=int, default=10000)
    ap.add_argument("--replay")
    ap.add_argument("--drop", default="")
    a = ap.parse_args()
    drop = [d for d in a.drop.split(",") if d]
    if a.replay:
        replay(a.replay, drop, a.updates)
        return
    if not a.batond:
        sys.exit("--batond is required")
    tmp = tempfile.mkdtemp(prefix="idxcost-run-")
    try:
        db = os.path.join(tmp, "jobs.db")
        make_db(os.path.abspath(a.batond), a.jobs, db)
        c = sqlite3.connect(db)
        idx = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                       " AND tbl_name = 'jobs' AND sql IS NOT NULL ORDER BY name")]
        c.close()
        n = 2 * a.updates
        base = measure(db, [], a.updates, tmp)
        print(f"all indexes: {base / n:,.0f} instructions per update"
              f" ({a.updates} claims + {a.updates} settles on {a.jobs} jobs)")
        for name in idx:
            cost = measure(db, [name], a.updates, tmp)
            print(f"  without {name:16} {cost / n:>9,.0f}  (the index costs"
                  f" {(base - cost) / n:>7,.0f} per update)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
