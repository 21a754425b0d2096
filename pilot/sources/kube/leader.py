"""Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's `leaderelection` does it.

Every replica serves xDS; only the leader writes to the API server (status), as istiod does
(`pilot/pkg/leaderelection`). The rules, from client-go `tools/leaderelection/leaderelection.go`:
- a candidate takes the Lease when it does not exist (create) or when its holder has not renewed it
  for `lease_duration`, measured on the candidate's own clock from when it last saw the record change
  (so clocks need not agree between replicas);
- writes are conditional on the resourceVersion read: of two candidates racing for an expired Lease one
  gets 409 Conflict and stays a follower;
- the leader renews every `retry_period`; when it has not managed to renew for `renew_deadline` it
  stops leading (on_stopped) before anyone else may take over (renew_deadline < lease_duration), then
  runs for election again;
- stopping gracefully releases the Lease (holder cleared, ReleaseOnCancel), so another replica takes
  over at its next retry instead of after a full lease duration.
Defaults are client-go's recommended ones: 15 s lease, 10 s renew deadline, 2 s retry period.
"""

from __future__ import annotations

import datetime
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client import ApiClient, ApiException

log = logging.getLogger(__name__)

JITTER = 1.2  # client-go's JitterFactor for the retry period


@dataclass(frozen=True)
class LeaseTimings:
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > JITTER * self.retry_period > 0:
            raise ValueError("leader election needs lease duration > renew deadline > 1.2 x retry period > 0")


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    def __init__(self, api: ApiClient, namespace: str, name: str, *, identity: str = "",
                 timings: LeaseTimings | None = None, on_started: Callable[[], None] = lambda: None,
                 on_stopped: Callable[[], None] = lambda: None, clock: Callable[[], float] = time.monotonic) -> None:
        self.leases = client.CoordinationV1Api(api)
        self.namespace, self.name = namespace, name
        self.identity = identity or default_identity()
        self.timings = timings or LeaseTimings()
        self.on_started, self.on_stopped = on_started, on_stopped
        self.clock = clock
        self._leading = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observed: tuple[str, str, str] | None = None  # (holder, renewTime, resourceVersion)
        self._observed_at = 0.0

    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"leader:{self.name}")
        self._thread.start()

    def stop(self, release: bool = True, timeout: float = 5.0) -> None:
        """Stop campaigning; a leader stops leading, and with `release` hands the Lease back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        was_leading = self._leading.is_set()
        self._lose()
        if release and was_leading:
            self._release()

    # ---- the loop --------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if self._try_acquire_or_renew():
                self._lead()
            else:
                self._wait()

    def _lead(self) -> None:
        self._leading.set()
        log.info("leader election %s/%s: %s is the leader", self.namespace, self.name, self.identity)
        self._call(self.on_started)
        last_renew = self.clock()
        while not self._stop.is_set():
            self._stop.wait(self.timings.retry_period)
            if self._stop.is_set():
                return  # stop() ends the leadership (and may release the Lease)
            if self._try_acquire_or_renew():
                last_renew = self.clock()
            elif self.clock() - last_renew >= self.timings.renew_deadline:
                log.warning("leader election %s/%s: %s could not renew within %.1f s; stepping down",
                            self.namespace, self.name, self.identity, self.timings.renew_deadline)
                self._lose()
                return

    def _lose(self) -> None:
        if self._leading.is_set():
            self._leading.clear()
            self._call(self.on_stopped)

    def _wait(self) -> None:
        period = self.timings.retry_period
        self._stop.wait(period + random.random() * (JITTER - 1.0) * period)

    @staticmethod
    def _call(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # a callback's failure must not end the election loop
            log.exception("leader election callback failed")

    # ---- one attempt -----------------------------------------------------------------------------
    def _try_acquire_or_renew(self) -> bool:
        now = _now()
        try:
            lease = self.leases.read_namespaced_lease(self.name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                log.info("leader election: reading Lease %s/%s failed: %s", self.namespace, self.name, e.reason)
                return False
            return self._create(now)
        except Exception as e:  # unreachable server and the like: try again next period
            log.info("leader election: reading Lease %s/%s failed: %s", self.namespace, self.name, e)
            return False
        spec = lease.spec or client.V1LeaseSpec()
        holder = spec.holder_identity or ""
        record = (holder, str(spec.renew_time), str(getattr(lease.metadata, "resource_version", "")))
        if record != self._observed:
            self._observed, self._observed_at = record, self.clock()
        duration = spec.lease_duration_seconds or self.timings.lease_duration
        if holder and holder != self.identity and self.clock() < self._observed_at + duration:
            return False  # held by another replica that renewed recently
        if holder != self.identity:
            spec.acquire_time = now
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        spec.holder_identity = self.identity
        spec.lease_duration_seconds = max(1, round(self.timings.lease_duration))
        spec.renew_time = now
        lease.spec = spec
        try:
            # PUT carries the resourceVersion read above: a competing write in between gives 409.
            self.leases.replace_namespaced_lease(self.name, self.namespace, lease)
        except Exception as e:
            log.info("leader election: updating Lease %s/%s failed: %s", self.namespace, self.name,
                     getattr(e, "reason", e))
            return False
        return True

    def _create(self, now: datetime.datetime) -> bool:
        body = client.V1Lease(metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
                              spec=client.V1LeaseSpec(holder_identity=self.identity, acquire_time=now, renew_time=now,
                                                      lease_duration_seconds=max(1, round(self.timings.lease_duration)),
                                                      lease_transitions=0))
        try:
            self.leases.create_namespaced_lease(self.namespace, body)
        except Exception as e:  # 409 AlreadyExists: another replica was first
            log.info("leader election: creating Lease %s/%s failed: %s", self.namespace, self.name,
                     getattr(e, "reason", e))
            return False
        return True

    def _release(self) -> None:
        try:
            lease = self.leases.read_namespaced_lease(self.name, self.namespace)
            if lease.spec is None or lease.spec.holder_identity != self.identity:
                return
            lease.spec.holder_identity = None
            lease.spec.lease_duration_seconds = 1
            lease.spec.renew_time = _now()
            self.leases.replace_namespaced_lease(self.name, self.namespace, lease)
        except Exception as e:
            log.info("leader election: releasing Lease %s/%s failed: %s", self.namespace, self.name, e)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
