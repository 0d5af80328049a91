"""Worker tests against a real batond: outcomes, heartbeats, cancel, lost lease, close."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import uuid
from typing import Any, List, Tuple

from baton import Client, RetryIn, Unauthenticated, Unrecoverable, Worker

from .server import PKG, Server, wait_until

srv: Server


def setUpModule() -> None:
    global srv
    srv = Server().start()


def tearDownModule() -> None:
    srv.stop()


def uq() -> str:
    return "wq-" + uuid.uuid4().hex[:10]


class RecordingClient(Client):
    """A Client that records every call (method, path, body) it sends."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.calls: List[Tuple[str, str, Any]] = []
        self._rec_lock = threading.Lock()

    def _call(self, method: str, path: str, query: Any = None, body: Any = None,
              **kw: Any) -> Any:
        with self._rec_lock:
            self.calls.append((method, path, body))
        return super()._call(method, path, query, body, **kw)

    def settled_ids(self) -> List[str]:
        with self._rec_lock:
            return [str(i["id"]) for m, p, b in self.calls if p == "/v1/settle"
                    for i in b["items"]]


class WorkerTest(unittest.TestCase):
    def setUp(self) -> None:
        self.c = RecordingClient(srv.url, srv.key, timeout=10)
        self.addCleanup(self.c.close)
        self.q = uq()
        self.threads: List[threading.Thread] = []

    def start(self, w: Worker) -> threading.Thread:
        err: List[BaseException] = []

        def run() -> None:
            try:
                w.run()
            except BaseException as e:  # kept for the test to look at
                err.append(e)

        t = threading.Thread(target=run, daemon=True)
        t.errors = err  # type: ignore[attr-defined]
        t.start()
        self.addCleanup(self.stop, w, t)
        return t

    def stop(self, w: Worker, t: threading.Thread) -> None:
        w.close()
        t.join(15)
        self.assertFalse(t.is_alive(), "worker did not stop within 15 s")

    def worker(self, handler: Any, **kw: Any) -> Worker:
        kw.setdefault("claim_wait_ms", 300)
        return Worker(self.c, queue=self.q, handler=handler, **kw)


class TestOutcomes(WorkerTest):
    def test_result_and_progress(self) -> None:
        seen = []

        def handle(job, ctx):
            ctx.progress(40, "page 2", step="render")
            seen.append(ctx.lease)
            return {"sent": job.payload["user"]}

        completed = []
        w = self.worker(handle, concurrency=2,
                        on_completed=lambda job, res: completed.append((job.id, res)))
        job = self.c.enqueue(self.q, "welcome", {"user": 7})
        self.start(w)
        done = self.c.wait_job(job.id, timeout_ms=10000)
        self.assertEqual((done.state, done.result), ("completed", {"sent": 7}))
        self.assertEqual((done.progress.percent, done.progress.step), (40, "render"))
        self.assertEqual([s.step for s in done.steps], ["render"])
        self.assertEqual(done.worker, w.worker_id)
        self.assertTrue(wait_until(lambda: completed == [(job.id, {"sent": 7})], 5))
        self.assertTrue(seen[0])
        self.assertIn(job.id, self.c.settled_ids())
        self.assertFalse([p for m, p, b in self.c.calls if p.endswith("/complete")])

    def test_unrecoverable_goes_dead_without_retry(self) -> None:
        failed = []

        def handle(job, ctx):
            raise Unrecoverable("bad input: no user")

        w = self.worker(handle, on_failed=lambda job, e: failed.append(type(e).__name__))
        job = self.c.enqueue(self.q, "t", max_attempts=3,
                             backoff={"type": "immediate", "base_ms": 0, "max_ms": 0})
        self.start(w)
        done = self.c.wait_job(job.id, timeout_ms=10000)
        self.assertEqual((done.state, done.attempt, done.last_error),
                         ("dead", 1, "bad input: no user"))
        self.assertTrue(wait_until(lambda: failed == ["Unrecoverable"], 5))

    def test_other_exception_is_retried(self) -> None:
        calls = []

        def handle(job, ctx):
            calls.append(job.attempt)
            if job.attempt == 1:
                raise ValueError("flaky upstream")
            return "ok"

        w = self.worker(handle)
        job = self.c.enqueue(self.q, "t", max_attempts=3,
                             backoff={"type": "immediate", "base_ms": 0, "max_ms": 0})
        self.start(w)
        done = self.c.wait_job(job.id, timeout_ms=10000)
        self.assertEqual((done.state, done.attempt, done.result), ("completed", 2, "ok"))
        self.assertEqual(done.last_error, "ValueError: flaky upstream")
        self.assertEqual([a.outcome for a in done.attempts], ["failed", "completed"])
        self.assertEqual(calls, [1, 2])

    def test_retry_in_delays_the_retry(self) -> None:
        def handle(job, ctx):
            if job.type == "ctx":
                ctx.retry_in(1500, "not yet")
            raise RetryIn(2500)

        w = self.worker(handle, concurrency=2)
        a = self.c.enqueue(self.q, "ctx", max_attempts=2)
        b = self.c.enqueue(self.q, "exc", max_attempts=2)
        self.start(w)
        for job, ms in ((a, 1500), (b, 2500)):
            got = wait_until(lambda: (lambda j: j if j.state == "retrying" else None)(
                self.c.get_job(job.id)), 10)
            self.assertTrue(got, "job did not become retrying")
            delay = _ms(got.run_at) - _ms(got.attempts[0].finished_at)
            self.assertAlmostEqual(delay, ms, delta=300)
        self.assertEqual(self.c.get_job(a.id).last_error, "not yet")

    def test_concurrency_and_batched_claims_and_settles(self) -> None:
        lock = threading.Lock()
        now = [0]
        peak = [0]

        def handle(job, ctx):
            with lock:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
            time.sleep(0.05)
            with lock:
                now[0] -= 1
            return job.payload

        jobs = self.c.enqueue_jobs([{"queue": self.q, "type": "t", "payload": i}
                                    for i in range(40)])
        w = self.worker(handle, concurrency=8)
        self.start(w)
        for j in jobs:
            self.assertEqual(self.c.wait_job(j.id, timeout_ms=10000).result, int(j.payload))
        self.assertEqual(peak[0], 8)
        claims = [b for m, p, b in self.c.calls if p.endswith("/claim")]
        self.assertEqual(claims[0]["max"], 8)
        self.assertEqual(sorted(self.c.settled_ids(), key=int), [j.id for j in jobs])
        self.assertTrue(wait_until(lambda: w.stats["completed"] == 40, 5))


class TestLeases(WorkerTest):
    def test_cancel_sets_ctx_cancelled(self) -> None:
        started = threading.Event()
        saw = {}

        def handle(job, ctx):
            started.set()
            saw["fired"] = ctx.cancelled.wait(10)
            saw["cancel_requested"] = ctx.cancel_requested
            saw["lease_lost"] = ctx.lease_lost
            raise RuntimeError("stopped on cancel")

        w = self.worker(handle, lease_ms=1500)  # heartbeats every 500 ms
        job = self.c.enqueue(self.q, "t")
        self.start(w)
        self.assertTrue(started.wait(10))
        t0 = time.monotonic()
        self.assertTrue(self.c.cancel_job(job.id).cancel_requested)
        done = self.c.wait_job(job.id, timeout_ms=10000)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(saw, {"fired": True, "cancel_requested": True, "lease_lost": False})
        self.assertEqual((done.state, done.cancel_reason), ("cancelled", "cancelled"))

    def test_lost_lease_is_reported_and_never_settled(self) -> None:
        lost = []
        saw = {}

        def handle(job, ctx):
            saw["fired"] = ctx.cancelled.wait(10)
            saw["lease_lost"] = ctx.lease_lost
            return {"late": True}  # must not be sent: the lease is gone

        w = self.worker(handle, lease_ms=1200,
                        on_lease_lost=lambda job, e: lost.append((job.id, e.code)))
        # timeout_ms ends the attempt server-side after 400 ms, heartbeats or not.
        job = self.c.enqueue(self.q, "t", timeout_ms=400, max_attempts=1)
        self.start(w)
        self.assertTrue(wait_until(lambda: lost, 10))
        self.assertEqual(lost, [(job.id, "lease_mismatch")])
        self.assertTrue(wait_until(lambda: "lease_lost" in saw, 5))
        self.assertEqual(saw, {"fired": True, "lease_lost": True})
        time.sleep(0.3)
        self.assertNotIn(job.id, self.c.settled_ids())
        done = self.c.get_job(job.id)
        self.assertEqual((done.state, done.last_error, done.result), ("dead", "timeout", None))
        self.assertEqual(done.attempts[0].outcome, "timeout")
        self.assertEqual((w.stats["lease_lost"], w.stats["completed"]), (1, 0))

    def test_heartbeats_keep_a_long_job_alive(self) -> None:
        def handle(job, ctx):
            time.sleep(2.5)  # longer than the 1 s lease: only heartbeats keep it
            return "slow"

        w = self.worker(handle, lease_ms=1000)
        job = self.c.enqueue(self.q, "t", max_attempts=1)
        self.start(w)
        done = self.c.wait_job(job.id, timeout_ms=15000)
        self.assertEqual((done.state, done.result, done.attempt), ("completed", "slow", 1))
        beats = [p for m, p, b in self.c.calls if p.endswith("/heartbeat")]
        self.assertGreaterEqual(len(beats), 4)


class TestLifecycle(WorkerTest):
    def test_close_finishes_in_flight_jobs(self) -> None:
        started = []
        lock = threading.Lock()
        all_started = threading.Event()

        def handle(job, ctx):
            with lock:
                started.append(job.id)
                if len(started) == 3:
                    all_started.set()
            time.sleep(0.8)
            return "finished"

        jobs = self.c.enqueue_jobs([{"queue": self.q, "type": "t"}] * 3)
        w = self.worker(handle, concurrency=3)
        t = self.start(w)
        self.assertTrue(all_started.wait(10))
        w.close()
        late = self.c.enqueue(self.q, "t")
        t.join(15)
        self.assertFalse(t.is_alive())
        self.assertEqual(t.errors, [])  # type: ignore[attr-defined]
        for j in jobs:
            got = self.c.get_job(j.id)
            self.assertEqual((got.state, got.result), ("completed", "finished"))
        self.assertEqual(self.c.get_job(late.id).state, "queued")

    def test_bad_key_stops_run_with_the_error(self) -> None:
        bad = Client(srv.url, "bk_k0000000000000000_" + "0" * 32)
        self.addCleanup(bad.close)
        w = Worker(bad, queue=self.q, handler=lambda j, c: None, claim_wait_ms=100)
        t0 = time.monotonic()
        with self.assertRaises(Unauthenticated):
            w.run()
        self.assertLess(time.monotonic() - t0, 5)

    def test_sigterm_with_handle_signals(self) -> None:
        script = (
            "import sys, time\n"
            "from baton import Client, Worker\n"
            "c = Client(sys.argv[1], sys.argv[2])\n"
            "def h(job, ctx):\n"
            "    print('started', flush=True)\n"
            "    time.sleep(1)\n"
            "    return 'graceful'\n"
            "Worker(c, queue=sys.argv[3], handler=h, claim_wait_ms=300,"
            " handle_signals=True).run()\n"
            "print('run returned', flush=True)\n")
        job = self.c.enqueue(self.q, "t")
        env = dict(os.environ, PYTHONPATH=PKG)
        p = subprocess.Popen([sys.executable, "-c", script, srv.url, srv.key, self.q],
                             stdout=subprocess.PIPE, text=True, env=env)
        try:
            self.assertEqual(p.stdout.readline().strip(), "started")
            p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=15)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
            p.stdout.close()
        self.assertEqual(p.returncode, 0)
        self.assertIn("run returned", out)
        got = self.c.get_job(job.id)
        self.assertEqual((got.state, got.result), ("completed", "graceful"))

    def test_readme_quick_start_runs(self) -> None:
        with open(os.path.join(PKG, "README.md")) as f:
            m = re.search(r"```python\n(.*?)```", f.read(), re.S)
        self.assertIsNotNone(m, "README has no python block")
        env = dict(os.environ, PYTHONPATH=PKG, BATON_URL=srv.url, BATON_KEY=srv.key)
        for run in (1, 2):  # the second run finds the first job by its idempotency key
            r = subprocess.run([sys.executable, "-c", m.group(1)], capture_output=True,
                               text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("completed {'rows': 10}", r.stdout)
        self.assertIn("duplicate True", r.stdout)


def _ms(ts: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000


if __name__ == "__main__":
    unittest.main()
