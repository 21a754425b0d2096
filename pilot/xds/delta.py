"""Incremental (delta) ADS: the per-stream, per-type protocol state machine, without I/O.

Rules (xds-protocol-notes.md, "Delta (incremental) specifics"):
- each resource has its own version; the server tracks what the client holds and sends only the
  difference, with deletions in removed_resources;
- subscription changes apply even when the nonce is stale (the nonce only ties an ACK to a response);
- freshly subscribed names are always sent, even if the client is believed to hold them;
- initial_resource_versions (first request of a type after a reconnect) say what the client holds;
- a subscribed name that does not exist is reported once in removed_resources;
- a NACK (error_detail) is recorded and the rejected content is not sent again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from envoy.service.discovery.v3 import discovery_pb2

from pilot.xds.cache import NodeResources
from pilot.xds.responses import DeltaResponse
from pilot.xds.status import Outcome, OutcomeKind, TypeSync
from pilot.xds.subscription import Subscription
from pilot.xds.types import CLUSTER, ENDPOINT, push_rank


@dataclass(slots=True)
class _DeltaTypeState:
    subscription: Subscription
    client: dict[str, str] = field(default_factory=dict)  # name -> version the client holds (or was sent)
    reported_absent: set[str] = field(default_factory=set)
    pending: dict[str, str] = field(default_factory=dict)  # nonce -> system version, not yet (N)ACKed
    last_nonce: str = ""
    must_respond: bool = False
    sync: TypeSync = field(default_factory=TypeSync)


class DeltaStream:
    """One delta ADS stream."""

    def __init__(self) -> None:
        self._types: dict[str, _DeltaTypeState] = {}
        self._nonces = itertools.count(1)

    def handle(self, request: discovery_pb2.DeltaDiscoveryRequest) -> Outcome:
        type_url = request.type_url
        state = self._types.get(type_url)
        first = state is None
        if state is None:
            state = self._types[type_url] = _DeltaTypeState(Subscription(type_url))
            state.client.update(request.initial_resource_versions)
        self._apply_subscription(state, request, first=first)
        nonce = request.response_nonce
        if not nonce:
            return Outcome(OutcomeKind.INITIAL if first else OutcomeKind.UPDATE, type_url)
        version = state.pending.pop(nonce, None)
        if version is None:
            return Outcome(OutcomeKind.STALE, type_url)
        # The client answers responses in order: older unanswered nonces will never be answered.
        for older in [n for n in state.pending if int(n) < int(nonce)]:
            del state.pending[older]
        latest = nonce == state.last_nonce
        if request.HasField("error_detail"):
            message = request.error_detail.message
            state.sync.on_nack(message, latest=latest)
            return Outcome(OutcomeKind.NACK, type_url, version, message)
        state.sync.on_ack(version, latest=latest)
        return Outcome(OutcomeKind.ACK, type_url, version)

    def responses(
        self, node: NodeResources | None, types: Iterable[str] | None = None
    ) -> list[DeltaResponse]:
        if node is None:
            return []
        wanted_types = set(self._types) if types is None else set(types) & set(self._types)
        out = []
        for type_url in sorted(self._types, key=push_rank):
            if type_url not in wanted_types:
                continue
            held = set(self._types[type_url].client)
            response = self._response_for(self._types[type_url], node)
            if response is not None:
                out.append(response)
            if (response is not None and type_url == CLUSTER and ENDPOINT in self._types
                    and any(r.name in held for r in response.resources)):
                # An updated EDS cluster warms until endpoints arrive after it, even unchanged ones
                # (see SotwStream.responses): send the subscribed endpoints again.
                self._types[ENDPOINT].client.clear()
                wanted_types.add(ENDPOINT)
        return out

    def sync_status(self) -> dict[str, TypeSync]:
        return {url: state.sync for url, state in self._types.items()}

    def subscribed_types(self) -> list[str]:
        return sorted(self._types, key=push_rank)

    @staticmethod
    def _apply_subscription(
        state: _DeltaTypeState, request: discovery_pb2.DeltaDiscoveryRequest, *, first: bool
    ) -> None:
        sub = state.subscription
        sub.subscribe(request.resource_names_subscribe, first=first)
        if first and sub.wildcard:
            state.must_respond = True  # Envoy waits for the first wildcard answer, even an empty one
        for name in request.resource_names_subscribe:
            state.client.pop(name, None)  # always (re-)send freshly subscribed names
            state.reported_absent.discard(name)
        sub.unsubscribe(request.resource_names_unsubscribe)
        for name in request.resource_names_unsubscribe:
            # Unsubscribing from a name still covered by the wildcard gets it sent back; otherwise
            # the client has dropped it. Either way it is no longer held.
            state.client.pop(name, None)
            state.reported_absent.discard(name)
        if not sub.wildcard:
            for name in [n for n in state.client if n not in sub.names]:
                del state.client[name]

    def _response_for(self, state: _DeltaTypeState, node: NodeResources) -> DeltaResponse | None:
        sub = state.subscription
        current = node.of(sub.type_url)
        wanted = {name: r for name, r in current.resources.items() if sub.wants(name)}
        to_send = [r for name, r in wanted.items() if state.client.get(name) != r.version]
        removed = {n for n in state.client if n not in wanted}
        removed |= {n for n in sub.names if n not in wanted and n not in state.reported_absent}
        if not to_send and not removed and not state.must_respond:
            return None
        nonce = str(next(self._nonces))
        for r in to_send:
            state.client[r.name] = r.version
            state.reported_absent.discard(r.name)
        for name in removed:
            state.client.pop(name, None)
            if name in sub.names:
                state.reported_absent.add(name)
        state.pending[nonce] = current.version
        state.last_nonce = nonce
        state.must_respond = False
        state.sync.on_sent(current.version)
        return DeltaResponse(sub.type_url, current.version, nonce, tuple(to_send), tuple(sorted(removed)))
