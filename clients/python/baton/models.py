"""Dataclasses for the objects batond answers (docs/api.md, docs/openapi.json).

Field names are the wire's (snake_case already), so `job.run_at` is the JSON member
`run_at`. Every field has a default because a member may be absent (a
`Prefer: return=minimal` enqueue answers only id, state and version) and because a
later server may drop nothing but add members: those unknown members are kept in
`extra` instead of raising, so an older client keeps working against a newer
server. Times stay RFC 3339 strings as sent (parse them with
datetime.fromisoformat if needed): converting would lose nothing but cost time on
every job of a claim. `to_dict()` gives back the wire form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

TERMINAL_STATES = frozenset(("completed", "dead", "cancelled"))


class _Model:
    """from_dict/to_dict shared by every model; `_nested` maps a field to its class."""

    _nested: ClassVar[Dict[str, Any]] = {}

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]):
        if data is None:
            return None
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        names = cls._field_names()
        known: Dict[str, Any] = {}
        extra: Dict[str, Any] = {}
        for k, v in data.items():
            if k in names and k != "extra":
                sub = cls._nested.get(k)
                if sub is not None and v is not None:
                    if isinstance(sub, list):
                        v = [sub[0].from_dict(x) if isinstance(x, dict) else x for x in v]
                    elif isinstance(v, dict):
                        v = sub.from_dict(v)
                known[k] = v
            else:
                extra[k] = v
        obj = cls(**known)
        obj.extra = extra
        return obj

    @classmethod
    def _field_names(cls) -> frozenset:
        got = cls.__dict__.get("_names_cache")
        if got is None:
            got = frozenset(f.name for f in dataclasses.fields(cls))
            cls._names_cache = got
        return got

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            out[f.name] = _plain(getattr(self, f.name))
        out.update(getattr(self, "extra", {}) or {})
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, _Model):
        return v.to_dict()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _extra() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass
class Backoff(_Model):
    type: Optional[str] = None
    base_ms: Optional[int] = None
    max_ms: Optional[int] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Progress(_Model):
    percent: Optional[float] = None
    step: Optional[str] = None
    message: Optional[str] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Step(_Model):
    step: Optional[str] = None
    attempt: Optional[int] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Attempt(_Model):
    attempt: Optional[int] = None
    worker: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    outcome: Optional[str] = None
    error: Optional[str] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class TimerRef(_Model):
    key: Optional[str] = None
    version: Optional[int] = None
    fire_at: Optional[str] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class CronRef(_Model):
    key: Optional[str] = None
    run: Optional[str] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Parent(_Model):
    """A parent of a claimed job: its id and result (null unless it completed)."""
    id: Optional[str] = None
    result: Any = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Job(_Model):
    """The job object (docs/api.md "The job object").

    Beside the job's own members: `lease` and `parents` come with a claim,
    `duplicate`/`replaced` with an enqueue that found an existing job, `repeat`
    with a repeated complete/fail, `purged` with a cancel_job(purge=True).
    """
    id: Optional[str] = None
    queue: Optional[str] = None
    type: Optional[str] = None
    payload: Any = None
    priority: Optional[str] = None
    state: Optional[str] = None
    run_at: Optional[str] = None
    attempt: Optional[int] = None
    max_attempts: Optional[int] = None
    backoff: Optional[Backoff] = None
    lease_ms: Optional[int] = None
    timeout_ms: Optional[int] = None
    idempotency_key: Optional[str] = None
    key: Optional[str] = None
    unique_while: Optional[str] = None
    group: Optional[str] = None
    version: Optional[int] = None
    request_id: Optional[str] = None
    execution_id: Optional[str] = None
    traceparent: Optional[str] = None
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    result: Any = None
    last_error: Optional[str] = None
    progress: Optional[Progress] = None
    steps: List[Step] = field(default_factory=list)
    attempts: List[Attempt] = field(default_factory=list)
    worker: Optional[str] = None
    lease_until: Optional[str] = None
    cancel_requested: Optional[bool] = None
    cancel_reason: Optional[str] = None
    timer: Optional[TimerRef] = None
    cron: Optional[CronRef] = None
    depends_on: List[str] = field(default_factory=list)
    on_parent_failure: Optional[str] = None
    flow_id: Optional[str] = None
    ref: Optional[str] = None
    # Members of particular answers, not of the stored job:
    lease: Optional[str] = None
    parents: List[Parent] = field(default_factory=list)
    duplicate: bool = False
    replaced: bool = False
    repeat: bool = False
    purged: bool = False
    extra: Dict[str, Any] = _extra()

    _nested: ClassVar[Dict[str, Any]] = {
        "backoff": Backoff, "progress": Progress, "steps": [Step], "attempts": [Attempt],
        "timer": TimerRef, "cron": CronRef, "parents": [Parent]}

    @property
    def terminal(self) -> bool:
        """True once the job is completed, dead or cancelled."""
        return self.state in TERMINAL_STATES


@dataclass
class QueueCounts(_Model):
    pending: int = 0
    scheduled: int = 0
    queued: int = 0
    running: int = 0
    retrying: int = 0
    completed: int = 0
    dead: int = 0
    cancelled: int = 0
    extra: Dict[str, Any] = _extra()


@dataclass
class RateSetting(_Model):
    max: Optional[int] = None
    per_ms: Optional[int] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Queue(_Model):
    name: Optional[str] = None
    paused: Optional[bool] = None
    counts: Optional[QueueCounts] = None
    oldest_ready_age_ms: Optional[int] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    concurrency: Optional[int] = None
    rate: Optional[RateSetting] = None
    max_depth: Optional[int] = None
    group_concurrency: Optional[int] = None
    group_rate: Optional[RateSetting] = None
    defaults: Optional[Dict[str, Any]] = None
    retention: Optional[Dict[str, Any]] = None
    running: Optional[int] = None
    depth: Optional[int] = None
    settings_updated_at: Optional[str] = None
    job_events: Optional[bool] = None
    extra: Dict[str, Any] = _extra()

    _nested: ClassVar[Dict[str, Any]] = {
        "counts": QueueCounts, "rate": RateSetting, "group_rate": RateSetting}


@dataclass
class CronRun(_Model):
    id: Optional[str] = None
    key: Optional[str] = None
    scheduled_at: Optional[str] = None
    fired_at: Optional[str] = None
    trigger: Optional[str] = None
    job_id: Optional[str] = None
    status: Optional[str] = None
    reason: Optional[str] = None
    requested_by: Optional[str] = None
    payload: Any = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    duration_ms: Optional[int] = None
    summary: Optional[str] = None
    error: Optional[str] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class CronJobTemplate(_Model):
    queue: Optional[str] = None
    type: Optional[str] = None
    payload: Any = None
    priority: Optional[str] = None
    max_attempts: Optional[int] = None
    lease_ms: Optional[int] = None
    timeout_ms: Optional[int] = None
    group: Optional[str] = None
    backoff: Optional[Backoff] = None
    extra: Dict[str, Any] = _extra()

    _nested: ClassVar[Dict[str, Any]] = {"backoff": Backoff}


@dataclass
class Schedule(_Model):
    """A cron schedule (docs/api.md "The schedule object"). `created` is the put's."""
    key: Optional[str] = None
    cron: Optional[str] = None
    timezone: Optional[str] = None
    enabled: Optional[bool] = None
    owner: Optional[str] = None
    description: Optional[str] = None
    job: Optional[CronJobTemplate] = None
    overlap: Optional[str] = None
    misfire: Optional[str] = None
    catchup_window_ms: Optional[int] = None
    catchup_max: Optional[int] = None
    dst_gap: Optional[str] = None
    dst_fold: Optional[str] = None
    history_max: Optional[int] = None
    paused: Optional[bool] = None
    pause_note: Optional[str] = None
    next_fire_at: Optional[str] = None
    version: Optional[int] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    last_run: Optional[CronRun] = None
    last_status: Optional[str] = None
    created: Optional[bool] = None
    extra: Dict[str, Any] = _extra()

    _nested: ClassVar[Dict[str, Any]] = {"job": CronJobTemplate, "last_run": CronRun}


@dataclass
class Timer(_Model):
    key: Optional[str] = None
    version: Optional[int] = None
    state: Optional[str] = None
    fire_at: Optional[str] = None
    queue: Optional[str] = None
    type: Optional[str] = None
    payload: Any = None
    priority: Optional[str] = None
    max_attempts: Optional[int] = None
    backoff: Optional[Backoff] = None
    lease_ms: Optional[int] = None
    group: Optional[str] = None
    job_id: Optional[str] = None
    fired_at: Optional[str] = None
    deferred: Optional[Dict[str, Any]] = None
    request_id: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    extra: Dict[str, Any] = _extra()

    _nested: ClassVar[Dict[str, Any]] = {"backoff": Backoff}


@dataclass
class Flow(_Model):
    id: Optional[str] = None
    state: Optional[str] = None
    created_at: Optional[str] = None
    jobs: List[Job] = field(default_factory=list)
    next: Optional[str] = None
    extra: Dict[str, Any] = _extra()

    _nested: ClassVar[Dict[str, Any]] = {"jobs": [Job]}


@dataclass
class ApiKey(_Model):
    """A key object; `secret` is set only by create_key and rotate_key."""
    id: Optional[str] = None
    name: Optional[str] = None
    tenant: Optional[str] = None
    scopes: List[str] = field(default_factory=list)
    state: Optional[str] = None
    created_at: Optional[str] = None
    expires_at: Optional[str] = None
    revoked_at: Optional[str] = None
    rotated_at: Optional[str] = None
    previous_valid_until: Optional[str] = None
    rate_limit: Optional[RateSetting] = None
    created_by: Optional[str] = None
    secret: Optional[str] = field(default=None, repr=False)
    extra: Dict[str, Any] = _extra()

    _nested: ClassVar[Dict[str, Any]] = {"rate_limit": RateSetting}


@dataclass
class AuditEntry(_Model):
    id: Optional[str] = None
    at: Optional[str] = None
    key_id: Optional[str] = None
    tenant: Optional[str] = None
    action: Optional[str] = None
    target: Optional[str] = None
    request_id: Optional[str] = None
    status: Optional[int] = None
    code: Optional[str] = None
    detail: Any = None
    count: Optional[int] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Event(_Model):
    """An event of the event log (GET /v1/events): subject is {"kind", "id", "queue"}
    (a job), {"kind", "key"} (cron, timer) or {"kind", "name"} (a queue)."""
    id: Optional[str] = None
    type: Optional[str] = None
    at: Optional[str] = None
    subject: Optional[Dict[str, Any]] = None
    data: Optional[Dict[str, Any]] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class EventPage:
    """A page of GET /v1/events: next is the cursor to read on from (never None)."""
    events: List[Event]
    next: str


@dataclass
class WorkerRecord(_Model):
    """An entry of the worker registry (GET /v1/workers); not the Worker class."""
    id: Optional[str] = None
    info: Optional[Dict[str, Any]] = None
    queues: List[str] = field(default_factory=list)
    first_seen: Optional[str] = None
    last_seen: Optional[str] = None
    in_flight: List[str] = field(default_factory=list)
    in_flight_truncated: Optional[bool] = None
    completed: Optional[int] = None
    failed: Optional[int] = None
    health: Optional[str] = None
    lease_period_ms: Optional[int] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class StatsPoint(_Model):
    """One step of GET /v1/stats: counters of the step, gauges at their largest sample
    (None where no sample was taken)."""
    at: Optional[str] = None
    enqueued: Optional[int] = None
    started: Optional[int] = None
    completed: Optional[int] = None
    failed: Optional[int] = None
    retried: Optional[int] = None
    dead: Optional[int] = None
    cancelled: Optional[int] = None
    expired: Optional[int] = None
    depth: Optional[int] = None
    running: Optional[int] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Stats(_Model):
    """GET /v1/stats: the series of one queue (queue None: all of the tenant's).
    The wire's `from` (a Python keyword) is `from_`."""
    _nested: ClassVar[Dict[str, Any]] = {"points": [StatsPoint]}
    queue: Optional[str] = None
    window_ms: Optional[int] = None
    step_ms: Optional[int] = None
    from_: Optional[str] = None
    to: Optional[str] = None
    sample_ms: Optional[int] = None
    points: List[StatsPoint] = field(default_factory=list)
    extra: Dict[str, Any] = _extra()

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]):
        if isinstance(data, dict) and "from" in data:
            data = dict(data)
            data["from_"] = data.pop("from")
        return super().from_dict(data)

    def to_dict(self) -> Dict[str, Any]:
        out = super().to_dict()
        out["from"] = out.pop("from_")
        return out


@dataclass
class Heartbeat(_Model):
    lease_until: Optional[str] = None
    cancel_requested: Optional[bool] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class SettleResult(_Model):
    """One item of a POST /v1/settle answer; `error` is the error object when not ok."""
    id: Optional[str] = None
    ok: Optional[bool] = None
    error: Optional[Dict[str, Any]] = None
    extra: Dict[str, Any] = _extra()


@dataclass
class Scheduler(_Model):
    node: Optional[str] = None
    role: Optional[str] = None
    leader: Optional[str] = None
    epoch: Optional[int] = None
    lease_until: Optional[str] = None
    heartbeat_at: Optional[str] = None
    heartbeat_age_ms: Optional[int] = None
    lag_ms: Optional[int] = None
    last_tick_at: Optional[str] = None
    tick_lag_ms: Optional[int] = None
    next_deadline_at: Optional[str] = None
    next_due_at: Optional[str] = None
    tick_running: Optional[bool] = None
    fenced: Optional[int] = None
    notifications: Optional[str] = None
    schedules: Optional[int] = None
    due: Optional[int] = None
    skipped: Optional[Dict[str, int]] = None
    extra: Dict[str, Any] = _extra()
