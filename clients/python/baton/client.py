"""Client: every route of baton's HTTP API (docs/openapi.json, 49 operations).

Method names are the operationIds in snake_case (enqueueJobs is enqueue_jobs,
the batch form; enqueue is the one-job form the README leads with) and keyword
arguments carry the wire's names (`type`, `max`, `filter`; `from_` for the cron
preview's `from`, a Python keyword). An argument left at None is not sent, so the
server's default applies; where null itself means something (PATCH a queue
setting back to "not set", a job's payload to null) the default is UNSET and None
sends null. List methods are generators that follow the `next` cursor until it
is null: nothing is requested before the first item is asked for, and an error
is raised then.

Assumptions: batond >= the docs in this repository; ids are strings in answers and
may be given as int or str; payloads and results are JSON-serialisable values.
A Client may be shared by threads (each gets its own connection).
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.parse
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

from . import __version__
from ._http import Transport
from .models import (ApiKey, AuditEntry, CronRun, Event, EventPage, Flow, Heartbeat, Job, Queue,
                     Schedule, Scheduler, SettleResult, Stats, Timer, WorkerRecord)

JobId = Union[str, int]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


def _seg(v: Any) -> str:
    """One path segment, percent-encoded (a '/' inside a name stays inside it)."""
    return urllib.parse.quote(str(v), safe="")


def _body(**kw: Any) -> Dict[str, Any]:
    """A request body of the members given: None drops a member, UNSET too."""
    return {k: v for k, v in kw.items() if v is not None and v is not UNSET}


def _patch(**kw: Any) -> Dict[str, Any]:
    """A PATCH body: UNSET drops a member, None is sent as null."""
    return {k: v for k, v in kw.items() if v is not UNSET}


class Client:
    """A baton API client.

    url: the server's base URL ("http://127.0.0.1:7700", an https URL or one with a
    path prefix behind a proxy). key: an API key ("bk_..."), or None for a server run
    with --insecure-no-auth. timeout: socket timeout in seconds of one request (a long
    poll adds its own wait on top). max_retries: how often a 429 or 503 answer is
    retried after its Retry-After; max_retry_wait: the longest Retry-After (seconds)
    that is waited for, a longer one is raised at once.
    """

    def __init__(self, url: str, key: Optional[str] = None, *, timeout: float = 30.0,
                 max_retries: int = 3, max_retry_wait: float = 30.0,
                 user_agent: Optional[str] = None) -> None:
        self.url = url
        self._t = Transport(url, key, timeout, max_retries, max_retry_wait,
                            user_agent or f"baton-python/{__version__}")
        self._ctx = threading.local()

    # -- plumbing ----------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        return self._t

    def close(self) -> None:
        """Close the kept-alive connections (the client stays usable)."""
        self._t.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def using_request_id(self, request_id: str) -> Iterator[None]:
        """Send X-Request-Id: request_id on this thread's calls inside the block."""
        prev = getattr(self._ctx, "rid", None)
        self._ctx.rid = request_id
        try:
            yield
        finally:
            self._ctx.rid = prev

    def _call(self, method: str, path: str, query: Optional[Dict[str, Any]] = None,
              body: Any = None, *, send_body: bool = False, wait_s: float = 0.0,
              headers: Optional[Dict[str, str]] = None, raw: bool = False) -> Any:
        h = dict(headers or {})
        rid = getattr(self._ctx, "rid", None)
        if rid:
            h["X-Request-Id"] = rid
        kw: Dict[str, Any] = {}
        if send_body or body is not None:
            kw["body"] = body if body is not None else {}
        _, _, data = self._t.request(method, path, query, headers=h, wait_s=wait_s, raw=raw,
                                     **kw)
        return data

    def _iter(self, path: str, kind: str, model: Any, query: Dict[str, Any]) -> Iterator[Any]:
        after = query.pop("after", None)
        while True:
            data = self._call("GET", path, dict(query, after=after))
            for item in data.get(kind) or []:
                yield model.from_dict(item)
            after = data.get("next")
            if not after:
                return

    # -- jobs --------------------------------------------------------------------

    def enqueue(self, queue: str, type: str, payload: Any = None, *,
                priority: Optional[str] = None, delay_ms: Optional[int] = None,
                run_at: Optional[str] = None, max_attempts: Optional[int] = None,
                backoff: Optional[Dict[str, Any]] = None, lease_ms: Optional[int] = None,
                timeout_ms: Optional[int] = None, idempotency_key: Optional[str] = None,
                key: Optional[str] = None, on_key: Optional[str] = None,
                unique_while: Optional[str] = None, request_id: Optional[str] = None,
                execution_id: Optional[str] = None, traceparent: Optional[str] = None,
                depends_on: Optional[List[JobId]] = None,
                on_parent_failure: Optional[str] = None, group: Optional[str] = None,
                minimal: bool = False) -> Job:
        """POST /v1/jobs with one job. job.duplicate / job.replaced mark a repeat.

        minimal=True sends Prefer: return=minimal (the job holds id, state, version).
        """
        body = _body(queue=queue, type=type, payload=payload, priority=priority,
                     delay_ms=delay_ms, run_at=run_at, max_attempts=max_attempts,
                     backoff=backoff, lease_ms=lease_ms, timeout_ms=timeout_ms,
                     idempotency_key=idempotency_key, key=key, on_key=on_key,
                     unique_while=unique_while, request_id=request_id,
                     execution_id=execution_id, traceparent=traceparent,
                     depends_on=depends_on, on_parent_failure=on_parent_failure, group=group)
        if payload is None:
            body.pop("payload", None)
        data = self._call("POST", "/v1/jobs", body=body, headers=_prefer(minimal))
        return _job_answer(data)

    def enqueue_jobs(self, jobs: Iterable[Dict[str, Any]], *, minimal: bool = False) -> List[Job]:
        """POST /v1/jobs with {"jobs": [...]}: a batch of up to --batch-max (1,000)
        job objects (dicts with the enqueue fields), atomic; answers in request order."""
        data = self._call("POST", "/v1/jobs", body={"jobs": list(jobs)},
                          headers=_prefer(minimal))
        return [Job.from_dict(j) for j in data.get("jobs") or []]

    def get_job(self, id: JobId, *, wait_ms: Optional[int] = None) -> Job:
        """GET /v1/jobs/{id}; wait_ms (<= 60,000) waits until the job is terminal."""
        data = self._call("GET", "/v1/jobs/" + _seg(id), {"wait_ms": wait_ms},
                          wait_s=(wait_ms or 0) / 1000.0)
        return _job_answer(data)

    def wait_job(self, id: JobId, *, timeout_ms: int = 60000) -> Job:
        """Wait (long polls of GET /v1/jobs/{id}?wait_ms=) until the job is terminal
        or timeout_ms passed; answers the job as it is then (check job.terminal)."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            job = self.get_job(id, wait_ms=max(0, min(left, 60000)))
            if job.terminal or deadline - time.monotonic() <= 0:
                return job

    def list_jobs(self, *, queue: Optional[str] = None,
                  state: Optional[Union[str, List[str]]] = None, type: Optional[str] = None,
                  group: Optional[str] = None, key: Optional[str] = None,
                  idempotency_key: Optional[str] = None, request_id: Optional[str] = None,
                  execution_id: Optional[str] = None, worker: Optional[str] = None,
                  created_after: Optional[str] = None, created_before: Optional[str] = None,
                  finished_after: Optional[str] = None, finished_before: Optional[str] = None,
                  order: Optional[str] = None, limit: Optional[int] = None,
                  after: Optional[str] = None) -> Iterator[Job]:
        """GET /v1/jobs: every matching job, page after page (limit is the page size)."""
        return self._iter("/v1/jobs", "jobs", Job, dict(
            queue=queue, state=state, type=type, group=group, key=key,
            idempotency_key=idempotency_key, request_id=request_id, execution_id=execution_id,
            worker=worker, created_after=created_after, created_before=created_before,
            finished_after=finished_after, finished_before=finished_before, order=order,
            limit=limit, after=after))

    def bulk_jobs(self, action: str, filter: Optional[Dict[str, Any]] = None, *,
                  limit: Optional[int] = None, after: Optional[str] = None,
                  all_pages: bool = False) -> Dict[str, Any]:
        """POST /v1/jobs/bulk: retry|cancel|promote|purge the jobs `filter` finds.

        Answers {"matched", "changed", "next"}. all_pages=True repeats the call with
        `next` until it is null and answers the sums (next then None).
        """
        total = {"matched": 0, "changed": 0, "next": None}
        while True:
            data = self._call("POST", "/v1/jobs/bulk", body=_body(
                action=action, filter=filter if filter is not None else {}, limit=limit,
                after=after))
            if not all_pages:
                return data
            total["matched"] += data.get("matched", 0)
            total["changed"] += data.get("changed", 0)
            after = data.get("next")
            if not after:
                return total

    def cancel_job(self, id: JobId, *, purge: Optional[bool] = None) -> Job:
        """DELETE /v1/jobs/{id}: cancel (a running job gets cancel_requested), or with
        purge=True delete an ended job (the answer's job has purged=True)."""
        data = self._call("DELETE", "/v1/jobs/" + _seg(id), {"purge": purge})
        return _job_answer(data)

    def edit_job(self, id: JobId, *, priority: Any = UNSET, run_at: Any = UNSET,
                 payload: Any = UNSET) -> Job:
        """PATCH /v1/jobs/{id} of a job not started; payload=None sets the payload null."""
        data = self._call("PATCH", "/v1/jobs/" + _seg(id),
                          body=_patch(priority=priority, run_at=run_at, payload=payload))
        return _job_answer(data)

    def retry_job(self, id: JobId) -> Job:
        """POST /v1/jobs/{id}/retry: run a dead or cancelled job again."""
        return _job_answer(self._call("POST", f"/v1/jobs/{_seg(id)}/retry"))

    def promote_job(self, id: JobId) -> Job:
        """POST /v1/jobs/{id}/promote: a scheduled or retrying job becomes queued now."""
        return _job_answer(self._call("POST", f"/v1/jobs/{_seg(id)}/promote"))

    # -- work --------------------------------------------------------------------

    def claim_jobs(self, queue: str, worker: str, *, max: Optional[int] = None,
                   wait_ms: Optional[int] = None, lease_ms: Optional[int] = None,
                   info: Optional[Dict[str, Any]] = None) -> List[Job]:
        """POST /v1/queues/{queue}/claim: up to max jobs, each with its `lease` token."""
        data = self._call("POST", f"/v1/queues/{_seg(queue)}/claim",
                          body=_body(worker=worker, max=max, wait_ms=wait_ms,
                                     lease_ms=lease_ms, info=info),
                          wait_s=(wait_ms or 0) / 1000.0)
        return [Job.from_dict(j) for j in data.get("jobs") or []]

    def heartbeat_job(self, id: JobId, lease: str, *, extend_ms: Optional[int] = None,
                      progress: Any = None) -> Heartbeat:
        """POST /v1/jobs/{id}/heartbeat: extend the lease, store progress (a number is
        the percent, or {"percent", "step", "message"}); tells cancel_requested."""
        return Heartbeat.from_dict(self._call(
            "POST", f"/v1/jobs/{_seg(id)}/heartbeat",
            body=_body(lease=lease, extend_ms=extend_ms, progress=progress)))

    def complete_job(self, id: JobId, lease: str, result: Any = None) -> Job:
        """POST /v1/jobs/{id}/complete (job.repeat on a repeated call)."""
        body: Dict[str, Any] = {"lease": lease}
        if result is not None:
            body["result"] = result
        return _job_answer(self._call("POST", f"/v1/jobs/{_seg(id)}/complete", body=body))

    def fail_job(self, id: JobId, lease: str, error: Optional[str] = None, *,
                 retryable: Optional[bool] = None, retry_in_ms: Optional[int] = None) -> Job:
        """POST /v1/jobs/{id}/fail: retried per the backoff unless retryable=False."""
        return _job_answer(self._call("POST", f"/v1/jobs/{_seg(id)}/fail", body=_body(
            lease=lease, error=error, retryable=retryable, retry_in_ms=retry_in_ms)))

    def settle_batch(self, items: Iterable[Dict[str, Any]]) -> List[SettleResult]:
        """POST /v1/settle: items {"id", "lease", "outcome": "complete"|"fail", "result"
        | "error", "retryable", "retry_in_ms"}; one SettleResult per item, in order."""
        data = self._call("POST", "/v1/settle", body={"items": list(items)})
        return [SettleResult.from_dict(x) for x in data.get("items") or []]

    settle = settle_batch

    def list_workers(self, *, limit: Optional[int] = None,
                     after: Optional[str] = None) -> Iterator[WorkerRecord]:
        """GET /v1/workers: the tenant's worker registry."""
        return self._iter("/v1/workers", "workers", WorkerRecord,
                          dict(limit=limit, after=after))

    def get_worker(self, id: str) -> WorkerRecord:
        return WorkerRecord.from_dict(self._call("GET", "/v1/workers/" + _seg(id))["worker"])

    # -- stats -------------------------------------------------------------------

    def get_stats(self, *, queue: Optional[str] = None, window_ms: Optional[int] = None,
                  step_ms: Optional[int] = None) -> Stats:
        """GET /v1/stats: the per-step series of one queue (None: all the tenant's)."""
        return Stats.from_dict(self._call("GET", "/v1/stats",
                                          query=dict(queue=queue, window_ms=window_ms,
                                                     step_ms=step_ms))["stats"])
    # -- events ------------------------------------------------------------------

    def list_events(self, *, after: Optional[str] = None, type: Optional[str] = None,
                    queue: Optional[str] = None, limit: Optional[int] = None,
                    wait_ms: Optional[int] = None) -> EventPage:
        """GET /v1/events (events:read): the events after the cursor, oldest first;
        type is comma-separated patterns ("job.dead,cron.*"); with wait_ms the read
        waits for the next event. Pass the page's next as after to read on."""
        data = self._call("GET", "/v1/events", dict(after=after, type=type, queue=queue,
                                                    limit=limit, wait_ms=wait_ms),
                          wait_s=(wait_ms or 0) / 1000.0)
        return EventPage([Event.from_dict(x) for x in data.get("events") or []],
                         data.get("next") or (after or "0"))

    # -- queues ------------------------------------------------------------------

    def list_queues(self, *, limit: Optional[int] = None,
                    after: Optional[str] = None) -> Iterator[Queue]:
        return self._iter("/v1/queues", "queues", Queue, dict(limit=limit, after=after))

    def get_queue(self, queue: str) -> Queue:
        return Queue.from_dict(self._call("GET", "/v1/queues/" + _seg(queue))["queue"])

    def update_queue(self, queue: str, *, paused: Any = UNSET, concurrency: Any = UNSET,
                     rate: Any = UNSET, max_depth: Any = UNSET,
                     group_concurrency: Any = UNSET, group_rate: Any = UNSET,
                     max_attempts: Any = UNSET, backoff: Any = UNSET, lease_ms: Any = UNSET,
                     retention: Any = UNSET, timeout_ms: Any = UNSET,
                     job_events: Any = UNSET) -> Queue:
        """PATCH /v1/queues/{queue} (admin): the settings given; None removes one."""
        body = _patch(paused=paused, concurrency=concurrency, rate=rate, max_depth=max_depth,
                      group_concurrency=group_concurrency, group_rate=group_rate,
                      max_attempts=max_attempts, backoff=backoff, lease_ms=lease_ms,
                      retention=retention, timeout_ms=timeout_ms, job_events=job_events)
        return Queue.from_dict(self._call("PATCH", "/v1/queues/" + _seg(queue),
                                          body=body, send_body=True)["queue"])

    def delete_queue(self, queue: str) -> Dict[str, Any]:
        """DELETE /v1/queues/{queue} (admin): {"deleted", "purged"}; 409 queue_not_empty."""
        return self._call("DELETE", "/v1/queues/" + _seg(queue))

    def drain_queue(self, queue: str) -> Dict[str, Any]:
        """POST /v1/queues/{queue}/drain (admin): {"cancelled", "more"}."""
        return self._call("POST", f"/v1/queues/{_seg(queue)}/drain")

    def list_dead_jobs(self, queue: str, *, limit: Optional[int] = None,
                       after: Optional[str] = None) -> Iterator[Job]:
        return self._iter(f"/v1/queues/{_seg(queue)}/dead", "jobs", Job,
                          dict(limit=limit, after=after))

    def purge_dead_jobs(self, queue: str) -> Dict[str, Any]:
        """DELETE /v1/queues/{queue}/dead (admin): {"purged": N}."""
        return self._call("DELETE", f"/v1/queues/{_seg(queue)}/dead")

    def replay_dead_jobs(self, queue: str, *, ids: Optional[List[JobId]] = None,
                         all: Optional[bool] = None) -> Dict[str, Any]:
        """POST /v1/queues/{queue}/dead/replay (admin): ids=[...] or all=True."""
        return self._call("POST", f"/v1/queues/{_seg(queue)}/dead/replay",
                          body=_body(ids=ids, all=all))

    # -- operations --------------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        return self._call("GET", "/healthz")

    def ready(self) -> Dict[str, Any]:
        """GET /readyz; a stopping server is Unavailable (503)."""
        return self._call("GET", "/readyz")

    def metrics(self) -> str:
        """GET /metrics: Prometheus text (a key of tenant default with metrics/admin)."""
        return self._call("GET", "/metrics", headers={"Accept": "text/plain"}, raw=True)

    # -- keys and audit ----------------------------------------------------------

    def create_key(self, name: str, scopes: List[str], *, tenant: Optional[str] = None,
                   expires_at: Optional[str] = None,
                   rate_limit: Optional[Dict[str, int]] = None) -> ApiKey:
        """POST /v1/keys (admin); the answer's key has .secret (shown only here)."""
        data = self._call("POST", "/v1/keys", body=_body(
            name=name, scopes=scopes, tenant=tenant, expires_at=expires_at,
            rate_limit=rate_limit))
        k = ApiKey.from_dict(data["key"])
        k.secret = data.get("secret")
        return k

    def list_keys(self, *, tenant: Optional[str] = None, limit: Optional[int] = None,
                  after: Optional[str] = None) -> Iterator[ApiKey]:
        """GET /v1/keys (admin); tenant="*" lists every tenant's (root admin only)."""
        return self._iter("/v1/keys", "keys", ApiKey,
                          dict(tenant=tenant, limit=limit, after=after))

    def revoke_key(self, id: str) -> ApiKey:
        return ApiKey.from_dict(self._call("DELETE", "/v1/keys/" + _seg(id))["key"])

    def rotate_key(self, id: str, *, grace_ms: Optional[int] = None) -> ApiKey:
        """POST /v1/keys/{id}/rotate; the old secret works for grace_ms more."""
        data = self._call("POST", f"/v1/keys/{_seg(id)}/rotate", body=_body(grace_ms=grace_ms))
        k = ApiKey.from_dict(data["key"])
        k.secret = data.get("secret")
        return k

    # -- dashboard sessions (what the web dashboard at /ui/ signs in with) --------

    def create_session(self) -> Dict[str, Any]:
        """POST /v1/sessions with this client's key: {"session", "csrf_token", "cookie"}.

        cookie is the baton_session=... pair of the answer's Set-Cookie, to send as
        a Cookie header (get_session, delete_session); the CSRF token is only here.
        """
        _, rh, data = self._t.request("POST", "/v1/sessions", body={"key": self._t.key},
                                      headers={"Authorization": ""})
        cookie = (rh.get("Set-Cookie") or "").split(";")[0]
        return dict(data, cookie=cookie)

    def get_session(self, cookie: str) -> Dict[str, Any]:
        """GET /v1/sessions/current as the session cookie (no Authorization header)."""
        return self._call("GET", "/v1/sessions/current",
                          headers={"Authorization": "", "Cookie": cookie})["session"]

    def delete_session(self, cookie: str, csrf_token: str) -> None:
        """DELETE /v1/sessions/current: signs the session out."""
        self._call("DELETE", "/v1/sessions/current",
                   headers={"Authorization": "", "Cookie": cookie, "X-CSRF-Token": csrf_token})

    def list_audit(self, *, tenant: Optional[str] = None, action: Optional[str] = None,
                   key_id: Optional[str] = None, limit: Optional[int] = None,
                   after: Optional[str] = None) -> Iterator[AuditEntry]:
        return self._iter("/v1/audit", "entries", AuditEntry, dict(
            tenant=tenant, action=action, key_id=key_id, limit=limit, after=after))

    # -- cron --------------------------------------------------------------------

    def preview_cron(self, cron: str, *, timezone: Optional[str] = None,
                     count: Optional[int] = None, from_: Optional[str] = None,
                     dst_gap: Optional[str] = None, dst_fold: Optional[str] = None,
                     key: Optional[str] = None) -> Dict[str, Any]:
        """POST /v1/cron/preview: {"valid", "error", "description", "fires", ...}."""
        body = _body(cron=cron, timezone=timezone, count=count, dst_gap=dst_gap,
                     dst_fold=dst_fold, key=key)
        if from_ is not None:
            body["from"] = from_
        return self._call("POST", "/v1/cron/preview", body=body)

    def list_cron(self, *, limit: Optional[int] = None,
                  after: Optional[str] = None) -> Iterator[Schedule]:
        return self._iter("/v1/cron", "schedules", Schedule, dict(limit=limit, after=after))

    def apply_cron_registry(self, schedules: List[Dict[str, Any]], *,
                            prune: Optional[bool] = None) -> Dict[str, List[str]]:
        """PUT /v1/cron: {"created", "updated", "unchanged", "deleted"} key lists."""
        return self._call("PUT", "/v1/cron", body=_body(schedules=schedules, prune=prune))

    def put_cron(self, key: str, cron: str, job: Dict[str, Any], *,
                 timezone: Optional[str] = None, enabled: Optional[bool] = None,
                 owner: Optional[str] = None, description: Optional[str] = None,
                 overlap: Optional[str] = None, misfire: Optional[str] = None,
                 catchup_window_ms: Optional[int] = None, catchup_max: Optional[int] = None,
                 dst_gap: Optional[str] = None, dst_fold: Optional[str] = None,
                 history_max: Optional[int] = None) -> Schedule:
        """PUT /v1/cron/{key}: create or update; schedule.created says which."""
        data = self._call("PUT", "/v1/cron/" + _seg(key), body=_body(
            cron=cron, job=job, timezone=timezone, enabled=enabled, owner=owner,
            description=description, overlap=overlap, misfire=misfire,
            catchup_window_ms=catchup_window_ms, catchup_max=catchup_max, dst_gap=dst_gap,
            dst_fold=dst_fold, history_max=history_max))
        s = Schedule.from_dict(data["schedule"])
        s.created = data.get("created")
        return s

    def get_cron(self, key: str) -> Schedule:
        return Schedule.from_dict(self._call("GET", "/v1/cron/" + _seg(key))["schedule"])

    def delete_cron(self, key: str) -> Dict[str, Any]:
        return self._call("DELETE", "/v1/cron/" + _seg(key))

    def pause_cron(self, key: str, *, note: Optional[str] = None) -> Schedule:
        return Schedule.from_dict(self._call("POST", f"/v1/cron/{_seg(key)}/pause",
                                             body=_body(note=note))["schedule"])

    def resume_cron(self, key: str) -> Schedule:
        return Schedule.from_dict(self._call("POST", f"/v1/cron/{_seg(key)}/resume",
                                             send_body=True)["schedule"])

    def run_cron(self, key: str, *, force: Optional[bool] = None,
                 payload: Optional[Dict[str, Any]] = None) -> CronRun:
        """POST /v1/cron/{key}/run: a manual run now (409 already_running under skip)."""
        return CronRun.from_dict(self._call("POST", f"/v1/cron/{_seg(key)}/run",
                                            body=_body(force=force, payload=payload))["run"])

    def list_cron_runs(self, key: str, *, limit: Optional[int] = None,
                       after: Optional[str] = None) -> Iterator[CronRun]:
        return self._iter(f"/v1/cron/{_seg(key)}/runs", "runs", CronRun,
                          dict(limit=limit, after=after))

    def get_scheduler(self) -> Scheduler:
        return Scheduler.from_dict(self._call("GET", "/v1/scheduler"))

    # -- timers ------------------------------------------------------------------

    def list_timers(self, *, prefix: Optional[str] = None, limit: Optional[int] = None,
                    after: Optional[str] = None) -> Iterator[Timer]:
        return self._iter("/v1/timers", "timers", Timer,
                          dict(prefix=prefix, limit=limit, after=after))

    def get_timer(self, key: str) -> Timer:
        return Timer.from_dict(self._call("GET", "/v1/timers/" + _seg(key))["timer"])

    def put_timer(self, key: str, queue: str, type: str, payload: Any = None, *,
                  fire_at: Optional[str] = None, delay_ms: Optional[int] = None,
                  if_version: Optional[int] = None, if_scheduled: Optional[bool] = None,
                  priority: Optional[str] = None,
                  max_attempts: Optional[int] = None, backoff: Optional[Dict[str, Any]] = None,
                  lease_ms: Optional[int] = None, group: Optional[str] = None) -> Timer:
        """PUT /v1/timers/{key}: set or move (if_version=N compare-and-set, 0 create only;
        if_scheduled=True only while the current version has not fired or been cancelled)."""
        body = _body(queue=queue, type=type, payload=payload, fire_at=fire_at,
                     delay_ms=delay_ms, if_version=if_version, if_scheduled=if_scheduled,
                     priority=priority,
                     max_attempts=max_attempts, backoff=backoff, lease_ms=lease_ms, group=group)
        return Timer.from_dict(self._call("PUT", "/v1/timers/" + _seg(key), body=body)["timer"])

    def cancel_timer(self, key: str, *, if_version: Optional[int] = None) -> Timer:
        return Timer.from_dict(self._call("DELETE", "/v1/timers/" + _seg(key),
                                          {"if_version": if_version})["timer"])

    # -- flows -------------------------------------------------------------------

    def create_flow(self, jobs: List[Dict[str, Any]]) -> Flow:
        """POST /v1/flows: jobs are enqueue dicts with a `ref`; depends_on names refs
        of the flow or ids of existing jobs. Inserted atomically."""
        return Flow.from_dict(self._call("POST", "/v1/flows", body={"jobs": jobs})["flow"])

    def get_flow(self, id: JobId, *, after: Optional[str] = None,
                 all_pages: bool = True) -> Flow:
        """GET /v1/flows/{id}. A flow's jobs may come in pages under the answer budget;
        all_pages=True (the default) follows flow.next and answers every job."""
        flow = Flow.from_dict(self._call("GET", "/v1/flows/" + _seg(id), {"after": after})["flow"])
        while all_pages and flow.next:
            more = Flow.from_dict(self._call("GET", "/v1/flows/" + _seg(id),
                                             {"after": flow.next})["flow"])
            flow.jobs.extend(more.jobs)
            flow.next = more.next
        return flow


def _prefer(minimal: bool) -> Optional[Dict[str, str]]:
    return {"Prefer": "return=minimal"} if minimal else None


def _job_answer(data: Dict[str, Any]) -> Job:
    job = Job.from_dict(data["job"])
    for flag in ("duplicate", "replaced", "repeat", "purged"):
        if data.get(flag):
            setattr(job, flag, True)
    return job
