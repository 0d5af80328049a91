"""Worker: runs a handler over the jobs of one queue with threads.

Shape (why each thread exists):
- one claimer thread long-polls POST /v1/queues/{q}/claim for as many jobs as there
  are free slots (a batch), so an idle worker makes one request per claim_wait_ms
  instead of spinning;
- `concurrency` handler threads each run handler(job, ctx) for one job at a time;
- one heartbeat thread extends each running job's lease at a third of its lease
  (by default) and learns cancel_requested; a 409 lease_mismatch/lease_expired or
  a 404 there means the lease is lost: ctx.cancelled is set, on_lease_lost is
  called, and the job's outcome is never settled (another worker may own it now);
- one settler thread sends outcomes in batches via POST /v1/settle: whatever
  finished while the previous settle was in flight goes in the next one.

Outcomes: a return value completes the job with it as result; Unrecoverable fails
it without retry (dead); RetryIn / ctx.retry_in(ms) fails it with retry_in_ms; any
other exception fails it with retry (the job's backoff applies).

close() (or SIGTERM/SIGINT with handle_signals=True and run() on the main thread)
stops claiming; the claim in flight ends within claim_wait_ms and the jobs it got
are still run; run() returns when every handler has returned and every outcome
has been settled. Assumes handlers are ordinary blocking Python functions; a
handler that never returns blocks close() (its thread cannot be killed).
"""

from __future__ import annotations

import json
import logging
import os
import queue as queuelib
import signal
import socket
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from . import __version__
from .client import Client
from .errors import BatonError, BadRequest, Forbidden, NotFound, RetryIn, Unauthenticated
from .errors import Unrecoverable
from .models import Job

log = logging.getLogger("baton.worker")

_ERROR_MAX = 8000          # under batond's default --error-max-bytes (8 KiB)
_SETTLE_MAX_BYTES = 4 << 20  # well under --body-max-bytes (16 MiB) for one settle


class JobContext:
    """What a handler gets beside the job.

    cancelled: a threading.Event set when the job was cancelled (cancel_requested)
    or its lease was lost; cancel_requested and lease_lost say which.
    """

    def __init__(self, worker: "Worker", job: Job) -> None:
        self.job = job
        self.worker = worker
        self.cancelled = threading.Event()
        self.cancel_requested = False
        self.lease_lost = False
        self.lease_lost_error: Optional[BaseException] = None
        lease_ms = worker.lease_ms or job.lease_ms or 30000
        self.lease_ms = lease_ms
        now = time.monotonic()
        self._lease_deadline = now + lease_ms / 1000.0
        self._next_beat = now + worker._beat_interval(lease_ms)
        self._lock = threading.Lock()
        self._done = False

    @property
    def lease(self) -> Optional[str]:
        return self.job.lease

    def progress(self, percent: Optional[float] = None, message: Optional[str] = None, *,
                 step: Optional[str] = None) -> None:
        """Report progress now (a heartbeat that also extends the lease).

        Raises nothing for a lost lease: it sets ctx.cancelled instead, as the
        automatic heartbeat does; other errors (400 invalid progress) propagate.
        """
        p: Dict[str, Any] = {}
        if percent is not None:
            p["percent"] = percent
        if message is not None:
            p["message"] = message
        if step is not None:
            p["step"] = step
        self.worker._heartbeat(self, progress=p or None, raise_errors=True)

    def retry_in(self, ms: int, message: str = "") -> None:
        """Fail this attempt and retry the job after ms milliseconds (raises RetryIn)."""
        raise RetryIn(ms, message)


class Worker:
    """Runs handler(job, ctx) over the jobs of `queue`.

    concurrency: handler threads (jobs at once). lease_ms: the lease asked for at
    claim and each heartbeat (None: each job's own lease_ms). heartbeat_ms: the
    heartbeat period (None: a third of the lease). claim_wait_ms: the long poll of
    one claim (also the longest close() waits for the claim in flight). claim_max:
    the most jobs one claim asks for (None: concurrency). settle_max: items per
    settle request. worker_id: the registry id (default host-pid-random). info:
    the claim's `info` (default host, pid, version). handle_signals: SIGTERM/SIGINT
    call close() while run() runs on the main thread. Callbacks (called on worker
    threads; exceptions in them are logged): on_completed(job, result),
    on_failed(job, exc), on_lease_lost(job, error), on_error(exc).
    """

    def __init__(self, client: Client, *, queue: str,
                 handler: Callable[[Job, JobContext], Any], concurrency: int = 1,
                 lease_ms: Optional[int] = None, heartbeat_ms: Optional[int] = None,
                 claim_wait_ms: int = 2000, claim_max: Optional[int] = None,
                 settle_max: int = 500, worker_id: Optional[str] = None,
                 info: Optional[Dict[str, Any]] = None, handle_signals: bool = False,
                 on_completed: Optional[Callable[[Job, Any], None]] = None,
                 on_failed: Optional[Callable[[Job, BaseException], None]] = None,
                 on_lease_lost: Optional[Callable[[Job, BaseException], None]] = None,
                 on_error: Optional[Callable[[BaseException], None]] = None,
                 error_backoff_ms: int = 1000) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.client = client
        self.queue = queue
        self.handler = handler
        self.concurrency = int(concurrency)
        self.lease_ms = lease_ms
        self.heartbeat_ms = heartbeat_ms
        self.claim_wait_ms = int(claim_wait_ms)
        self.claim_max = int(claim_max or concurrency)
        self.settle_max = max(1, min(int(settle_max), 1000))
        self.worker_id = worker_id or (
            f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        self.info = info if info is not None else {
            "host": socket.gethostname()[:255], "pid": os.getpid(),
            "version": f"baton-python/{__version__}"}
        self.handle_signals = handle_signals
        self.on_completed = on_completed
        self.on_failed = on_failed
        self.on_lease_lost = on_lease_lost
        self.on_error = on_error
        self.error_backoff_ms = error_backoff_ms
        # Counters, read by callers and tests: claimed, completed, failed, lease_lost,
        # settle_requests, errors.
        self.stats: Dict[str, int] = {k: 0 for k in (
            "claimed", "completed", "failed", "lease_lost", "settle_requests", "errors")}
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self._slots = threading.Semaphore(self.concurrency)
        self._jobs: "queuelib.Queue[Optional[Job]]" = queuelib.Queue()
        self._settles: "queuelib.Queue[Any]" = queuelib.Queue()
        self._active: Dict[str, JobContext] = {}
        self._active_lock = threading.Lock()
        self._fatal: Optional[BaseException] = None
        self._running = False
        self._beat_stop = False
        self._old_handlers: Dict[int, Any] = {}

    # -- public ------------------------------------------------------------------

    def close(self) -> None:
        """Stop claiming; run() returns once in-flight jobs finished and settled.
        Safe from any thread and from a signal handler; does not wait."""
        self._stop.set()

    @property
    def closing(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Process jobs until close(). Raises the fatal error (401, 403, 400 of the
        claim) that stopped it, after the in-flight jobs finished."""
        if self._running:
            raise RuntimeError("Worker.run() is already running")
        self._running = True
        self._old_handlers = {}
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self._run_threads()
        finally:
            self._restore_signals()
            self._running = False
        if self._fatal is not None:
            raise self._fatal

    # -- threads -----------------------------------------------------------------

    def _on_signal(self, signum: int, frame: Any) -> None:
        log.warning("baton worker %s: signal %d, finishing in-flight jobs", self.worker_id,
                    signum)
        self.close()
        # A second signal gets the previous handling (Ctrl-C twice: KeyboardInterrupt).
        self._restore_signals()

    def _restore_signals(self) -> None:
        handlers, self._old_handlers = self._old_handlers, {}
        for sig, h in handlers.items():
            signal.signal(sig, h if h is not None else signal.SIG_DFL)

    def _run_threads(self) -> None:
        handlers = [threading.Thread(target=self._handler_loop, name=f"baton-handler-{i}",
                                     daemon=True) for i in range(self.concurrency)]
        settler = threading.Thread(target=self._settle_loop, name="baton-settle", daemon=True)
        beater = threading.Thread(target=self._beat_loop, name="baton-heartbeat", daemon=True)
        claimer = threading.Thread(target=self._claim_loop, name="baton-claim", daemon=True)
        self._beat_stop = False
        for t in handlers + [settler, beater, claimer]:
            t.start()
        # Wait in short steps so that a signal handler on the main thread can run.
        while claimer.is_alive():
            claimer.join(0.2)
        for _ in handlers:
            self._jobs.put(None)
        for t in handlers:
            while t.is_alive():
                t.join(0.2)
        self._settles.put(None)
        while settler.is_alive():
            settler.join(0.2)
        self._beat_stop = True
        while beater.is_alive():
            beater.join(0.2)

    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[name] += n

    def _report(self, exc: BaseException) -> None:
        self._count("errors")
        log.warning("baton worker %s: %s", self.worker_id, exc)
        self._callback(self.on_error, exc)

    def _callback(self, fn: Optional[Callable[..., None]], *args: Any) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:  # a callback's bug must not stop the worker
            log.exception("baton worker %s: callback %r raised", self.worker_id, fn)

    def _claim_loop(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.2):
                continue
            n = 1
            while n < self.claim_max and self._slots.acquire(blocking=False):
                n += 1
            try:
                jobs = self.client.claim_jobs(self.queue, self.worker_id, max=n,
                                              wait_ms=self.claim_wait_ms,
                                              lease_ms=self.lease_ms, info=self.info)
            except (Unauthenticated, Forbidden, BadRequest) as e:
                # Configuration errors do not heal by retrying: stop and raise from run().
                self._release(n)
                self._fatal = e
                self._report(e)
                self._stop.set()
                return
            except Exception as e:  # network, 5xx after retries: back off, go on
                self._release(n)
                self._report(e)
                self._stop.wait(self.error_backoff_ms / 1000.0)
                continue
            self._release(n - len(jobs))
            if jobs:
                self._count("claimed", len(jobs))
            for job in jobs:
                ctx = JobContext(self, job)
                with self._active_lock:
                    self._active[str(job.id)] = ctx
                self._jobs.put(job)

    def _release(self, n: int) -> None:
        for _ in range(n):
            self._slots.release()

    def _handler_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            with self._active_lock:
                ctx = self._active[str(job.id)]
            item: Optional[Dict[str, Any]] = None
            exc: Optional[BaseException] = None
            result: Any = None
            try:
                result = self.handler(job, ctx)
                json.dumps(result)  # refuse a result that cannot be sent, as a failure
                item = {"id": job.id, "lease": job.lease, "outcome": "complete"}
                if result is not None:
                    item["result"] = result
            except Unrecoverable as e:
                exc = e
                item = _fail_item(job, e, retryable=False)
            except RetryIn as e:
                exc = e
                item = _fail_item(job, e, retryable=True, retry_in_ms=e.ms)
            except Exception as e:
                exc = e
                item = _fail_item(job, e, retryable=True)
            self._slots.release()
            self._settles.put((ctx, item, result, exc))

    def _settle_loop(self) -> None:
        ending = False
        while not ending:
            first = self._settles.get()
            if first is None:
                return
            batch = [first]
            size = len(json.dumps(first[1]))
            while len(batch) < self.settle_max and size < _SETTLE_MAX_BYTES:
                try:
                    nxt = self._settles.get_nowait()
                except queuelib.Empty:
                    break
                if nxt is None:
                    ending = True
                    break
                batch.append(nxt)
                size += len(json.dumps(nxt[1]))
            self._settle(batch)

    def _settle(self, batch: List[Any]) -> None:
        send = []
        for entry in batch:
            ctx = entry[0]
            with ctx._lock:
                ctx._done = True
                lost = ctx.lease_lost
            if lost:
                self._forget(ctx)  # reported when it was lost; never settled
            else:
                send.append(entry)
        if not send:
            return
        answers = None
        for attempt in range(5):
            try:
                self._count("settle_requests")
                answers = self.client.settle_batch([e[1] for e in send])
                break
            except BatonError as e:
                self._report(e)
                if 400 <= e.status < 500:
                    break  # refused as a whole (401, 403, 413...): repeating cannot help
                # 5xx after the client's retries, or the connection broke: a settle is
                # safe to repeat (the same outcome answers repeat: true).
                time.sleep(min(0.2 * (2 ** attempt), 2.0))
            except Exception as e:
                self._report(e)
                time.sleep(min(0.2 * (2 ** attempt), 2.0))
        for i, (ctx, item, result, exc) in enumerate(send):
            ans = answers[i] if answers is not None and i < len(answers) else None
            self._forget(ctx)
            if ans is None:
                continue
            if ans.ok:
                if item["outcome"] == "complete":
                    self._count("completed")
                    self._callback(self.on_completed, ctx.job, result)
                else:
                    self._count("failed")
                    self._callback(self.on_failed, ctx.job, exc)
                continue
            code = (ans.error or {}).get("code", "")
            err = BatonError(409 if code.startswith("lease") else 400, code,
                             (ans.error or {}).get("message", ""))
            if code in ("lease_mismatch", "lease_expired", "not_found"):
                self._lost(ctx, err)
            elif item["outcome"] == "complete" and code != "already_settled":
                # The result itself was refused (result_too_large...): fail the job
                # rather than leave it running until its lease expires.
                self._report(err)
                try:
                    self.client.fail_job(ctx.job.id, ctx.job.lease,
                                         f"result refused: {code}: {err.message}"[:_ERROR_MAX],
                                         retryable=False)
                    self._count("failed")
                    self._callback(self.on_failed, ctx.job, err)
                except Exception as e:
                    self._report(e)
            else:
                self._report(err)

    def _forget(self, ctx: JobContext) -> None:
        with self._active_lock:
            self._active.pop(str(ctx.job.id), None)

    def _lost(self, ctx: JobContext, err: BaseException) -> None:
        with ctx._lock:
            if ctx.lease_lost:
                return
            ctx.lease_lost = True
            ctx.lease_lost_error = err
        ctx.cancelled.set()
        self._count("lease_lost")
        log.warning("baton worker %s: lease of job %s lost (%s); it will not be settled",
                    self.worker_id, ctx.job.id, err)
        self._callback(self.on_lease_lost, ctx.job, err)

    # -- heartbeats --------------------------------------------------------------

    def _beat_interval(self, lease_ms: int) -> float:
        ms = self.heartbeat_ms if self.heartbeat_ms else lease_ms / 3.0
        return max(ms, 50) / 1000.0

    def _beat_loop(self) -> None:
        while not self._beat_stop:
            now = time.monotonic()
            with self._active_lock:
                due = [c for c in self._active.values() if c._next_beat <= now]
            for ctx in due:
                if self._beat_stop:
                    return
                self._heartbeat(ctx)
            time.sleep(0.05)

    def _heartbeat(self, ctx: JobContext, progress: Any = None,
                   raise_errors: bool = False) -> None:
        with ctx._lock:
            if ctx.lease_lost or (ctx._done and progress is None):
                return
        sent_at = time.monotonic()
        ctx._next_beat = sent_at + self._beat_interval(ctx.lease_ms)
        try:
            hb = self.client.heartbeat_job(ctx.job.id, ctx.job.lease, extend_ms=self.lease_ms,
                                           progress=progress)
        except (NotFound,) as e:
            self._lost(ctx, e)
            return
        except BatonError as e:
            if e.code in ("lease_mismatch", "lease_expired"):
                self._lost(ctx, e)
                return
            if time.monotonic() > ctx._lease_deadline:
                # We could not extend it in time: assume another worker may own it.
                self._lost(ctx, e)
                return
            if raise_errors:
                raise
            self._report(e)
            ctx._next_beat = time.monotonic() + min(1.0, self._beat_interval(ctx.lease_ms))
            return
        ctx._lease_deadline = sent_at + ctx.lease_ms / 1000.0
        if hb.cancel_requested and not ctx.cancel_requested:
            ctx.cancel_requested = True
            ctx.cancelled.set()


def _fail_item(job: Job, e: BaseException, *, retryable: bool,
               retry_in_ms: Optional[int] = None) -> Dict[str, Any]:
    text = str(e) if isinstance(e, (Unrecoverable, RetryIn)) else f"{type(e).__name__}: {e}"
    raw = text.encode("utf-8")[:_ERROR_MAX]
    item: Dict[str, Any] = {"id": job.id, "lease": job.lease, "outcome": "fail",
                            "error": raw.decode("utf-8", "ignore") or type(e).__name__,
                            "retryable": retryable}
    if retry_in_ms is not None:
        item["retry_in_ms"] = retry_in_ms
    return item
