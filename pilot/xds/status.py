"""Per-type sync status of one stream, with Istio's proxy-status semantics.

NOT_SENT: nothing sent yet; STALE: sent, not yet ACKed; SYNCED: the last response was ACKed;
ERROR: the last response was NACKed (the proxy keeps its previous config). The shape matches
`/debug/syncz` in cli.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SyncState(StrEnum):
    NOT_SENT = "NOT_SENT"
    STALE = "STALE"
    SYNCED = "SYNCED"
    ERROR = "ERROR"


@dataclass(slots=True)
class TypeSync:
    sent: str = ""
    acked: str = ""
    error: str = ""
    state: SyncState = SyncState.NOT_SENT
    pushes: int = 0
    nacks: int = 0

    def on_sent(self, version: str) -> None:
        self.sent = version
        self.state = SyncState.STALE
        self.pushes += 1

    def on_ack(self, version: str, *, latest: bool) -> None:
        self.acked = version
        if latest:
            self.state = SyncState.SYNCED
            self.error = ""

    def on_nack(self, message: str, *, latest: bool) -> None:
        self.nacks += 1
        if latest:
            self.state = SyncState.ERROR
            self.error = message

    def on_resumed(self, version: str) -> None:
        """A reconnecting client already holds the current version: nothing to send."""
        self.sent = self.acked = version
        self.state = SyncState.SYNCED

    def as_dict(self) -> dict[str, str]:
        out = {"sent": self.sent, "acked": self.acked, "status": self.state.value}
        if self.state is SyncState.ERROR:
            out["error"] = self.error
        return out


class OutcomeKind(StrEnum):
    INITIAL = "initial"  # first request of a type on this stream (no nonce)
    ACK = "ack"
    NACK = "nack"
    STALE = "stale"  # response_nonce is not the latest (SotW: ignored; delta: subscriptions still applied)
    UPDATE = "update"  # a request without nonce after the first (delta subscription change)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request meant, for logs and metrics."""

    kind: OutcomeKind
    type_url: str
    version: str = ""  # ACK/NACK: the version the response carried
    message: str = ""  # NACK: error_detail.message
