"""baton: Python client and worker for the baton job server (standard library only).

    from baton import Client, Worker, Unrecoverable
    c = Client("http://127.0.0.1:7700", key)
    job = c.enqueue(queue="ingest", type="fixtures", payload={})
    Worker(c, queue="ingest", concurrency=4, handler=lambda job, ctx: {"rows": 10}).run()

See clients/python/README.md for every option.
"""

__version__ = "0.1.0"

from .errors import (BadRequest, BatonError, Conflict, ConnectionFailed, Forbidden,  # noqa: E402
                     NotFound, PayloadTooLarge, RateLimited, RetryIn, Unauthenticated,
                     Unavailable, Unrecoverable)
from .models import (ApiKey, Attempt, AuditEntry, Backoff, CronJobTemplate, CronRef,  # noqa: E402
                     CronRun, Event, EventPage, Flow, Heartbeat, Job, Parent, Progress, Queue,
                     QueueCounts, RateSetting, Schedule, Scheduler, SettleResult, Stats,
                     StatsPoint, Step, Timer, TimerRef, WorkerRecord, TERMINAL_STATES)
from .client import Client, UNSET  # noqa: E402
from .worker import JobContext, Worker  # noqa: E402

__all__ = [
    "Client", "Worker", "JobContext", "UNSET", "TERMINAL_STATES",
    "BatonError", "BadRequest", "Unauthenticated", "Forbidden", "NotFound", "Conflict",
    "PayloadTooLarge", "RateLimited", "Unavailable", "ConnectionFailed",
    "Unrecoverable", "RetryIn",
    "Job", "Backoff", "Progress", "Step", "Attempt", "TimerRef", "CronRef", "Parent",
    "Queue", "QueueCounts", "RateSetting", "Schedule", "CronJobTemplate", "CronRun",
    "Timer", "Flow", "ApiKey", "AuditEntry", "WorkerRecord", "Heartbeat", "SettleResult",
    "Scheduler", "Event", "EventPage", "Stats", "StatsPoint",
]
