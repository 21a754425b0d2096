"""Paced HTTP traffic from one app to its sidecar, every outcome recorded (no retries hide a failure)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

from pilot.testing.mesh import SERVICE_PORT, PodSpec


@dataclass(frozen=True, slots=True)
class Outcome:
    at: float  # time.monotonic() when the request was sent
    status: int  # 0: no HTTP answer (connection refused, reset, timeout)
    version: str  # the upstream app's version from its JSON body, "" if none


@dataclass
class PacedLoad:
    """`rate` requests per second over one keep-alive connection (reopened after a failure, which is
    counted), until `stop()` or `max_seconds` (the loop always ends by itself)."""

    pod: PodSpec
    host: str
    rate: float = 200.0
    max_seconds: float = 60.0
    port: int = SERVICE_PORT
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PacedLoad:
        self._thread = threading.Thread(target=self._run, name=f"load-{self.pod.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Outcome]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        return list(self.outcomes)

    def failures(self) -> list[Outcome]:
        return [o for o in list(self.outcomes) if o.status != 200]

    def since(self, t: float) -> list[Outcome]:
        return [o for o in list(self.outcomes) if o.at >= t]

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        start = time.monotonic()
        period = 1.0 / self.rate
        sent = 0
        while not self._stop.is_set() and time.monotonic() - start < self.max_seconds:
            due = start + sent * period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent += 1
            at = time.monotonic()
            if conn is None:
                conn = http.client.HTTPConnection(self.pod.bind, self.port, timeout=5)
            try:
                conn.request("GET", "/", headers={"host": self.host})
                resp = conn.getresponse()
                body = resp.read()
                self.outcomes.append(Outcome(at, resp.status, _version(body)))
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                self.outcomes.append(Outcome(at, 0, ""))
        if conn is not None:
            conn.close()


def _version(body: bytes) -> str:
    try:
        return str(json.loads(body).get("version", ""))
    except (ValueError, AttributeError):
        return ""
