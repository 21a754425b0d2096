"""LISTENER, FILTER_CHAIN, NETWORK_FILTER and HTTP_FILTER patches over the generated listeners."""

from __future__ import annotations

from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from google.protobuf.message import Message

from pilot.model.proxy import ProxyView
from pilot.translate.envoyfilter import matching as m
from pilot.translate.envoyfilter.lists import apply_op, merge, unpack
from pilot.translate.envoyfilter.selection import HCM, Patch
from pilot.translate.envoyfilter.state import PatchState
from pilot.translate.pb import type_url

LISTENER = type_url(listener_pb2.Listener)


class PatchError(ValueError):
    """The patch matched but cannot be applied (reported; the patch is left out)."""


def patch_listeners(state: PatchState, view: ProxyView, patch: Patch, value: Message | None) -> bool:
    spec = patch.match.get("listener") or {}
    if patch.apply_to == "LISTENER" and patch.operation == "ADD":
        assert isinstance(value, listener_pb2.Listener)
        if not m.context_matches(patch.context, view, value.traffic_direction == m.INBOUND):
            return False
        if state.peek(LISTENER, value.name) is not None:
            raise PatchError(f"listener {value.name} already exists")
        state.put(LISTENER, value.name, value)
        return True
    changed = False
    for name, lis in list(state.items(LISTENER)):
        assert isinstance(lis, listener_pb2.Listener)
        if not (m.context_matches(patch.context, view, lis.traffic_direction == m.INBOUND)
                and m.listener_matches(spec, lis)):
            continue
        if patch.apply_to == "LISTENER":
            changed |= _whole_listener(state, name, lis, patch.operation, value)
            continue
        copy = listener_pb2.Listener()
        copy.CopyFrom(lis)
        if _inside_listener(copy, spec, patch, value):
            state.put(LISTENER, name, copy)
            changed = True
    return changed


def _whole_listener(state: PatchState, name: str, lis: listener_pb2.Listener, op: str,
                    value: Message | None) -> bool:
    if op == "REMOVE":
        state.delete(LISTENER, name)
        return True
    assert value is not None
    copy = listener_pb2.Listener()
    if op == "REPLACE":
        copy.CopyFrom(value)
        copy.name = copy.name or name
    else:
        copy.CopyFrom(lis)
        merge(copy, value)
    state.put(LISTENER, name, copy)
    return True


def _inside_listener(lis: listener_pb2.Listener, spec: m.Spec, patch: Patch, value: Message | None) -> bool:
    chain_spec = spec.get("filterChain") or {}
    port = lis.address.socket_address.port_value
    if patch.apply_to == "FILTER_CHAIN":
        return apply_op(lis.filter_chains, patch.operation, lambda c: m.chain_matches(chain_spec, c, port), value)
    filter_spec = chain_spec.get("filter") or {}
    changed = False
    for chain in lis.filter_chains:
        if not m.chain_matches(chain_spec, chain, port):
            continue
        if patch.apply_to == "NETWORK_FILTER":
            changed |= apply_op(chain.filters, patch.operation,
                                lambda f: m.name_matches(filter_spec.get("name"), f.name), value)
            continue
        for f in chain.filters:  # HTTP_FILTER: inside each matching HTTP connection manager
            if not m.name_matches(HCM, f.name) or not m.name_matches(filter_spec.get("name"), f.name):
                continue
            manager = unpack(f.typed_config)
            if not isinstance(manager, hcm.HttpConnectionManager):
                continue
            sub = filter_spec.get("subFilter") or {}
            if apply_op(manager.http_filters, patch.operation, m.http_filter_selector(sub), value):
                f.typed_config.Pack(manager, deterministic=True)
                changed = True
    return changed
