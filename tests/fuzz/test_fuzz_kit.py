"""The fuzz kit itself: every served kind is generated, and the Envoy check can fail."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given

from pilot.model.kinds import KINDS
from pilot.testing import xds_resources as xr
from pilot.testing.envoy_static import bootstrap, validate_all
from pilot.testing.fuzz_kinds import SPEC_SKELETONS, document
from pilot.testing.fuzz_mutations import mutated_document
from pilot.xds.types import CLUSTER, ENDPOINT, LISTENER, ROUTE
from tests.fuzz.strategies import ci_settings


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_served_kind_is_generated(kind: str) -> None:
    seen: list[dict[str, Any]] = []

    @ci_settings(20)
    @given(document(kind))
    def draw(doc: dict[str, Any]) -> None:
        seen.append(doc)

    draw()
    assert seen and all(d["kind"] == kind and d["apiVersion"].endswith(KINDS[kind].versions) for d in seen)


def test_skeletons_are_for_served_kinds() -> None:
    assert set(SPEC_SKELETONS) <= set(KINDS)


def test_mutations_change_the_document() -> None:
    changed: list[bool] = []
    original = document("VirtualService")

    @ci_settings(50)
    @given(original, mutated_document(original))
    def draw(plain: dict[str, Any], broken: dict[str, Any]) -> None:
        changed.append(plain != broken)

    draw()
    assert sum(changed) > 40


def _proxy(route_regex: str | None) -> dict[str, Mapping[str, Any]]:
    return {CLUSTER: {"c": xr.cluster("c")}, ENDPOINT: {"c": xr.endpoints("c", ("127.0.0.1", 8080))},
            LISTENER: {"l": xr.http_listener("l", "127.0.0.1", 9080, "r")},
            ROUTE: {"r": xr.direct_response_route("r", "ok", path_regex=route_regex)}}


def test_static_bootstrap_inlines_routes_and_assignments() -> None:
    config = bootstrap([_proxy(None), _proxy(None)])
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert clusters["p1~c"]["type"] == "STATIC" and "p1~c" in str(clusters["p1~c"]["load_assignment"])
    listeners = config["static_resources"]["listeners"]
    hcm = listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert "rds" not in hcm and hcm["route_config"]["name"] == "r"
    assert len({lis["address"]["socket_address"]["port_value"] for lis in listeners}) == 2


def test_envoy_rejection_is_found_and_pinned_to_its_proxy() -> None:
    # "(" is no RE2 regex: Envoy refuses the route table, so the check can fail.
    items = [_proxy(None), _proxy("^/ok$"), _proxy("("), _proxy(None)]
    rejections = validate_all(items, batch=4)
    assert [r.index for r in rejections] == [2]
    assert "regex" in rejections[0].message.lower() or "missing )" in rejections[0].message


def test_batches_are_split_until_each_rejected_item_is_alone() -> None:
    calls: list[int] = []

    def fake(config: Mapping[str, Any]) -> str | None:
        calls.append(len(config["static_resources"]["listeners"]))
        return "rejected" if "BAD" in json.dumps(config) else None

    items = [_proxy("BAD" if i in (3, 9) else None) for i in range(12)]
    assert [r.index for r in validate_all(items, batch=6, validate=fake)] == [3, 9]
    assert calls[:3] == [6, 3, 3] and len(calls) < 12
