"""HTTP transport of the baton client: http.client, one kept-alive connection per thread.

Why per thread: http.client.HTTPConnection is not thread-safe, and a Worker runs
several threads (claims, heartbeats, settles, handlers) against one Client. A
threading.local holds each thread's connection; batond keeps idle connections
for --idle-timeout-ms (60 s by default) and then closes them, so a request on a
reused connection that fails before any answer byte arrived (the peer closed it
while idle) is sent again once on a fresh connection. That is the only resend
of a request whose fate is unknown; batond answers only after it committed, and
an idle close happens between requests, so the resend does not run a request
twice in practice.

429 and 503 answers are retried after their Retry-After (batond sends it on every
429 and 503) up to max_retries times, never waiting longer than max_retry_wait
seconds for one retry: the server refused those requests without doing anything.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from typing import Any, Dict, Optional, Tuple

from .errors import BatonError, ConnectionFailed, error_class

_NO_BODY = object()


class Transport:
    def __init__(self, url: str, key: Optional[str], timeout: float, max_retries: int,
                 max_retry_wait: float, user_agent: str) -> None:
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"url must be http(s)://host[:port][/prefix], got {url!r}")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.key = key
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.max_retry_wait = float(max_retry_wait)
        self.user_agent = user_agent
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: set = set()
        # Counters a caller (or a test) can read: how often a connection was made
        # and how often a request was resent after a dropped keep-alive connection.
        self.connects = 0
        self.reconnects = 0
        self.retries = 0

    # -- connections -------------------------------------------------------------

    def _new_conn(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        with self._lock:
            self._conns.add(conn)
            self.connects += 1
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._lock:
            self._conns.discard(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def close(self) -> None:
        """Close every thread's connection (threads open a new one on their next call)."""
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for c in conns:
            c.close()
        self._local.conn = None

    # -- requests ----------------------------------------------------------------

    def request(self, method: str, path: str, query: Optional[Dict[str, Any]] = None,
                body: Any = _NO_BODY, headers: Optional[Dict[str, str]] = None,
                wait_s: float = 0.0, raw: bool = False) -> Tuple[int, Any, Any]:
        """Send one call; answer (status, headers, decoded JSON or text when raw).

        Raises BatonError (a subclass by status) for any status >= 400, after the
        429/503 retries. wait_s is added to the socket timeout for long polls.
        """
        target = self.prefix + path
        if query:
            q = {k: _qv(v) for k, v in query.items() if v is not None}
            if q:
                target += "?" + urllib.parse.urlencode(q)
        hdrs = {"Accept": "application/json", "User-Agent": self.user_agent}
        if self.key:
            hdrs["Authorization"] = "Bearer " + self.key
        data: Optional[bytes] = None
        if body is not _NO_BODY:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        # An empty Authorization asks for none: a call the dashboard's session
        # cookie authenticates (Client.get_session, Client.delete_session).
        if hdrs.get("Authorization") == "":
            del hdrs["Authorization"]
        attempt = 0
        while True:
            status, rh, payload = self._once(method, target, data, hdrs, self.timeout + wait_s)
            if status in (429, 503) and attempt < self.max_retries:
                wait = _retry_after(rh)
                if wait is None:
                    wait = min(0.1 * (2 ** attempt), 5.0)
                if wait <= self.max_retry_wait:
                    attempt += 1
                    with self._lock:
                        self.retries += 1
                    time.sleep(wait)
                    continue
            break
        if status >= 400:
            raise _error(status, rh, payload)
        if raw:
            return status, rh, payload.decode("utf-8", "replace")
        if not payload:
            return status, rh, None
        try:
            return status, rh, json.loads(payload)
        except ValueError as e:
            raise BatonError(status, "invalid_answer", f"answer is not JSON: {e}") from None

    def _once(self, method: str, target: str, data: Optional[bytes], hdrs: Dict[str, str],
              timeout: float) -> Tuple[int, Any, bytes]:
        resent = False
        while True:
            conn = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = self._new_conn()
                self._local.conn = conn
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, target, body=data, headers=hdrs)
                resp = conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError, ConnectionAbortedError) as e:
                self._drop(conn)
                if reused and not resent:
                    # The server closed the kept-alive connection while it was idle.
                    resent = True
                    with self._lock:
                        self.reconnects += 1
                    continue
                raise ConnectionFailed(0, "connection_failed",
                                       f"{method} {target}: {e!r}") from None
            except (OSError, http.client.HTTPException, socket.timeout) as e:
                self._drop(conn)
                raise ConnectionFailed(0, "connection_failed",
                                       f"{method} {target}: {e!r}") from None
            if resp.will_close:
                self._drop(conn)
            return resp.status, resp.headers, payload


def _qv(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


def _retry_after(h: Any) -> Optional[float]:
    v = h.get("Retry-After") if h is not None else None
    if v is None:
        return None
    try:
        return max(0.0, float(v.strip()))
    except ValueError:
        return None  # an HTTP date: batond sends seconds, so fall back to a backoff


def _error(status: int, h: Any, payload: bytes) -> BatonError:
    body: Any = None
    err: Dict[str, Any] = {}
    try:
        body = json.loads(payload) if payload else None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
    except ValueError:
        body = payload.decode("utf-8", "replace")
    cls = error_class(status)
    return cls(status, str(err.get("code") or f"http_{status}"),
               str(err.get("message") or (body if isinstance(body, str) else "")),
               field=err.get("field"), retry_after=_retry_after(h), job_id=err.get("job_id"),
               request_id=h.get("X-Request-Id") if h is not None else None, body=body)
