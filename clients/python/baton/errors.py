"""Exceptions of the baton client.

Every answer of batond that is not a success carries one JSON shape,
{"error": {"code", "message", "field"}} (docs/api.md "Conventions"); BatonError
holds its members plus the HTTP status and the Retry-After header, so callers can
branch on the stable `code` rather than on message text. The subclasses follow the
HTTP status only, because codes are many and may grow.

The worker-side exceptions (Unrecoverable, RetryIn) live here too: they are what a
handler raises to tell the Worker how to settle a failed attempt.
"""

from __future__ import annotations

from typing import Any, Optional


class BatonError(Exception):
    """An error answer of batond, or a failure to reach it (status 0)."""

    def __init__(self, status: int, code: str, message: str, field: Optional[str] = None,
                 retry_after: Optional[float] = None, job_id: Optional[str] = None,
                 request_id: Optional[str] = None, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (field {field})" if field else ""))
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        # Seconds from the Retry-After header (429 and 503 answers), else None.
        self.retry_after = retry_after
        # The other job a refusal names (409 already_running), as a string id.
        self.job_id = job_id
        self.request_id = request_id
        self.body = body

    @property
    def retry_after_ms(self) -> Optional[int]:
        return None if self.retry_after is None else int(self.retry_after * 1000)


class BadRequest(BatonError):
    """400: invalid input; nothing was changed."""


class Unauthenticated(BatonError):
    """401: no key, an unknown, revoked or expired key."""


class Forbidden(BatonError):
    """403: the key lacks the route's scope (the message names it)."""


class NotFound(BatonError):
    """404: no such object in the key's tenant (or no such route)."""


class Conflict(BatonError):
    """409: lease_mismatch, idempotency_conflict, invalid_state, version_mismatch..."""


class PayloadTooLarge(BatonError):
    """413: a body, payload, result, error text or batch over its limit."""


class RateLimited(BatonError):
    """429: over the key's rate limit (or a cron manual-run cooldown)."""


class Unavailable(BatonError):
    """503: queue_full, store_unavailable, shutting_down, server_busy..."""


class ConnectionFailed(BatonError):
    """The server could not be reached or the connection broke (status 0)."""


_BY_STATUS = {400: BadRequest, 401: Unauthenticated, 403: Forbidden, 404: NotFound,
              409: Conflict, 413: PayloadTooLarge, 429: RateLimited, 503: Unavailable}


def error_class(status: int) -> type:
    return _BY_STATUS.get(status, BatonError)


class Unrecoverable(Exception):
    """Raised by a handler: fail the job without retry (it goes dead)."""


class RetryIn(Exception):
    """Raised by a handler (or by ctx.retry_in): fail this attempt, retry after ms."""

    def __init__(self, ms: int, message: str = "") -> None:
        super().__init__(message or f"retry in {ms} ms")
        self.ms = int(ms)
