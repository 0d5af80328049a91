"""Starts and stops a real batond for the tests ($BATOND, else <repo>/build/batond).

Each test module starts its own server on 127.0.0.1:0 with a temporary data
directory and --sync normal, reads the port from the "listening on" line and
the admin key from <data>/admin.key, and polls /healthz (bounded). stop() sends
SIGTERM to the pid, waits at most 10 s, then SIGKILL.
"""

from __future__ import annotations

import http.client
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
REPO = os.environ.get("BATON_SRC") or os.path.dirname(os.path.dirname(PKG))


def batond_path() -> str:
    b = os.environ.get("BATOND") or os.path.join(REPO, "build", "batond")
    if not os.access(b, os.X_OK):
        raise RuntimeError(f"batond not found at {b}: set BATOND")
    return b


class Server:
    def __init__(self, *extra: str) -> None:
        self.extra: List[str] = list(extra)
        self.proc: Optional[subprocess.Popen] = None
        self.dir = tempfile.mkdtemp(prefix="baton-pytest-")
        self.url = ""
        self.key = ""
        self.output: List[str] = []
        self._pump: Optional[threading.Thread] = None

    def start(self) -> "Server":
        args = [batond_path(), "--listen", "127.0.0.1:0", "--data", self.dir,
                "--sync", "normal", "--log-level", "warn"] + self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        lines: "queue.Queue[str]" = queue.Queue()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
                self.output.append(line)
            lines.put("")

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + 15
        port = None
        while port is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line == "":
                break
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
        if port is None:
            self.stop()
            raise RuntimeError("batond did not start:\n" + "".join(self.output))
        self.url = f"http://127.0.0.1:{port}"
        with open(os.path.join(self.dir, "admin.key")) as f:
            self.key = f.read().strip()
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    c.close()
                    return self
                c.close()
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("batond /healthz never answered 200")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout is not None:
            if self._pump is not None:
                self._pump.join(5)  # read to EOF so a report at exit is seen
            self.proc.stdout.close()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
        # Under the ASan+UBSan build a report on the server's output fails the module.
        bad = [ln for ln in self.output if "Sanitizer" in ln or "runtime error:" in ln]
        if bad:
            raise AssertionError("batond sanitizer report:\n" + "".join(self.output[-200:]))


def wait_until(pred, timeout: float = 10.0, step: float = 0.05):
    """Poll pred() until it answers a true value or timeout seconds pass (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)
