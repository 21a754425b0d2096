"""Selector and patch semantics of the fake API server (pure functions)."""

from __future__ import annotations

import pytest

from pilot.testing.kubeapi.patch import PatchError, json_patch, merge_patch
from pilot.testing.kubeapi.selectors import SelectorError, parse_field_selector, parse_label_selector


def obj(**labels: str) -> dict[str, object]:
    return {"metadata": {"name": "n", "namespace": "ns", "labels": labels}, "type": "kubernetes.io/tls",
            "spec": {"hostNetwork": True}}


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("", {}, True),
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),  # != matches objects without the label
    ("app in (web, db),tier", {"app": "db", "tier": "x"}, True),
    ("app notin (web,db)", {"app": "web"}, False),
    ("!canary", {"canary": "true"}, False),
    ("example.com/role=edge,app", {"example.com/role": "edge", "app": "a"}, True),
])
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector)(obj(**labels)) is expected


@pytest.mark.parametrize("bad", ["app in (a,", "-app=x", "app=not valid", "a=b=c"])
def test_bad_label_selectors_raise(bad: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(bad)


def test_field_selectors_only_accept_supported_fields() -> None:
    fields = frozenset({"metadata.name", "metadata.namespace", "type", "spec.hostNetwork"})
    assert parse_field_selector("type=kubernetes.io/tls,metadata.namespace!=kube-system", fields)(obj())
    assert parse_field_selector("spec.hostNetwork=true", fields)(obj())
    assert not parse_field_selector("metadata.name=other", fields)(obj())
    with pytest.raises(SelectorError, match=r"field label not supported: status\.phase"):
        parse_field_selector("status.phase=Running", fields)


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert merge_patch(target, {"a": {"b": None, "c": [3]}, "e": {"f": 1}}) == {
        "a": {"c": [3]}, "d": 1, "e": {"f": 1}}
    assert target == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # not mutated


def test_json_patch_follows_rfc_6902() -> None:
    doc = {"spec": {"http": [{"weight": 80}, {"weight": 20}]}}
    out = json_patch(doc, [{"op": "test", "path": "/spec/http/0/weight", "value": 80},
                           {"op": "replace", "path": "/spec/http/0/weight", "value": 50},
                           {"op": "add", "path": "/spec/http/-", "value": {"weight": 30}},
                           {"op": "remove", "path": "/spec/http/1"},
                           {"op": "copy", "from": "/spec/http/0", "path": "/spec/first"}])
    assert out == {"spec": {"http": [{"weight": 50}, {"weight": 30}], "first": {"weight": 50}}}
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "test", "path": "/spec/http/0/weight", "value": 1}])
    with pytest.raises(PatchError):
        json_patch(doc, {"op": "add"})
