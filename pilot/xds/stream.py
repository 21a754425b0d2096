"""State of the world ADS: the per-stream, per-type protocol state machine, without I/O.

Feed it requests (`handle`) and the node's current resources (`responses`); it says what to send.
Rules (xds-protocol-notes.md, Part A1):
- each type has its own nonce sequence; a request whose nonce is not the latest one sent is stale and
  ignored;
- a request with error_detail is a NACK: recorded, and the rejected content is not sent again; only a
  change of content (or a newly subscribed name) causes the next send;
- LDS/CDS responses carry the full state; RDS/EDS carry the subscribed names that exist and changed
  since last sent, and names that do not exist yet are sent once they are created;
- a reconnecting client whose first request carries the current version of a pure wildcard type is not
  sent that type again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from envoy.service.discovery.v3 import discovery_pb2

from pilot.xds.cache import NodeResources
from pilot.xds.responses import SotwResponse
from pilot.xds.status import Outcome, OutcomeKind, TypeSync
from pilot.xds.subscription import Subscription
from pilot.xds.types import CLUSTER, ENDPOINT, FULL_STATE_TYPES, WILDCARD_TYPES, push_rank


@dataclass(slots=True)
class _TypeState:
    subscription: Subscription
    nonce: str = ""  # last nonce sent for this type
    sent: dict[str, str] = field(default_factory=dict)  # name -> version the client was last sent
    must_respond: bool = False  # a wildcard's first request is answered even when empty
    resume_version: str = ""  # version_info of the first request after a reconnect
    sync: TypeSync = field(default_factory=TypeSync)


class SotwStream:
    """One SotW ADS stream (or a per-type xDS stream): subscriptions, nonces, ACK/NACK."""

    def __init__(self) -> None:
        self._types: dict[str, _TypeState] = {}
        self._nonces = itertools.count(1)

    def handle(self, request: discovery_pb2.DiscoveryRequest) -> Outcome:
        type_url = request.type_url
        state = self._types.get(type_url)
        first = state is None
        if state is None:
            state = self._types[type_url] = _TypeState(Subscription(type_url))
        # Any nonce but the latest one sent (including none, once one was sent) is stale: the client
        # has not seen our newest response yet and will answer it with its current names.
        if request.response_nonce != state.nonce:
            if request.response_nonce and request.version_info and not request.HasField("error_detail"):
                # Still a fact worth reporting: the client applied this (older) version.
                state.sync.on_ack(request.version_info, latest=False)
            return Outcome(OutcomeKind.STALE, type_url)
        state.subscription.replace(request.resource_names)
        self._forget_unwanted(state)
        if not state.nonce:
            if first:
                state.resume_version = request.version_info
                state.must_respond = type_url in WILDCARD_TYPES and state.subscription.wildcard
            return Outcome(OutcomeKind.INITIAL, type_url)
        if request.HasField("error_detail"):
            message = request.error_detail.message
            state.sync.on_nack(message, latest=True)
            return Outcome(OutcomeKind.NACK, type_url, state.sync.sent, message)
        state.sync.on_ack(state.sync.sent, latest=True)
        return Outcome(OutcomeKind.ACK, type_url, state.sync.sent)

    def responses(self, node: NodeResources | None, types: Iterable[str] | None = None) -> list[SotwResponse]:
        """What to send now, in push order; the machine records them as sent."""
        if node is None:
            return []
        wanted_types = set(self._types) if types is None else set(types) & set(self._types)
        out = []
        for type_url in sorted(self._types, key=push_rank):
            if type_url not in wanted_types:
                continue
            updating = bool(self._types[type_url].nonce)
            response = self._response_for(self._types[type_url], node)
            if response is not None:
                out.append(response)
            if response is not None and updating and type_url == CLUSTER and ENDPOINT in self._types:
                # Envoy warms an updated EDS cluster until it gets a ClusterLoadAssignment *after* the
                # new Cluster, even an unchanged one; without it the cluster (and the CDS ACK) wait
                # forever. So every CDS push is followed by the subscribed endpoints (as istiod does).
                self._types[ENDPOINT].sent = {}
                wanted_types.add(ENDPOINT)
        return out

    def sync_status(self) -> dict[str, TypeSync]:
        return {url: state.sync for url, state in self._types.items()}

    def subscribed_types(self) -> list[str]:
        return sorted(self._types, key=push_rank)

    def _response_for(self, state: _TypeState, node: NodeResources) -> SotwResponse | None:
        type_url = state.subscription.type_url
        current = node.of(type_url)
        wanted = [r for name, r in current.resources.items() if state.subscription.wants(name)]
        versions = {r.name: r.version for r in wanted}
        resume, state.resume_version = state.resume_version, ""
        pure_wildcard = state.subscription.wildcard and not state.subscription.names
        if resume and pure_wildcard and resume == current.version:
            state.sent = versions
            state.must_respond = False
            state.sync.on_resumed(current.version)
            return None
        if type_url in FULL_STATE_TYPES:
            changed = versions != state.sent
        else:
            # RDS/EDS/SDS are not full state: a response may carry only what changed (xDS protocol,
            # "resource types" of SotW), so an endpoint change to one service sends one assignment. When
            # names were added the client gets all it asked for, as before.
            fresh = [r for r in wanted if state.sent.get(r.name) != r.version]
            changed = bool(fresh)
            if changed and not state.must_respond and all(r.name in state.sent for r in fresh):
                wanted = fresh
        if not changed and not state.must_respond:
            return None
        state.nonce = str(next(self._nonces))
        state.sent = {**state.sent, **versions} if type_url not in FULL_STATE_TYPES else versions
        state.must_respond = False
        state.sync.on_sent(current.version)
        return SotwResponse(type_url, current.version, state.nonce, tuple(wanted))

    @staticmethod
    def _forget_unwanted(state: _TypeState) -> None:
        # A name dropped from the subscription and asked for again must be re-sent.
        state.sent = {n: v for n, v in state.sent.items() if state.subscription.wants(n)}
