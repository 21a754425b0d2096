# ruff: noqa: E501  (case tables read best one case per line)
"""validate_document, check_document, Bookinfo samples, durations, and robustness against junk."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from pilot.model.durations import format_duration, parse_duration
from pilot.model.findings import Severity
from pilot.model.resource import Origin, resource_from_document
from pilot.validation import check_document, validate_document, validate_resource
from pilot.validation.registry import VALIDATORS
from tests.unit.validation.helpers import API_VERSIONS

ORIGIN = Origin("mesh.yaml", 7)
VS = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "reviews"},
      "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}


def with_(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for key, value in changes.items():
        if key == "name":
            out["metadata"]["name"] = value
        elif key == "namespace":
            out["metadata"]["namespace"] = value
        elif value is None:
            out.pop(key)
        else:
            out[key] = value
    return out


DOC_CASES: list[tuple[str, Any, list[tuple[str, str, str]]]] = [
    ("valid", VS, []),
    ("empty document", None, []),
    ("list", [VS], [("error", "", "document must be a mapping")]),
    ("scalar", "hello", [("error", "", "document must be a mapping")]),
    ("no apiVersion", with_(VS, apiVersion=None), [("error", "apiVersion", "apiVersion is required")]),
    ("no kind", with_(VS, kind=None), [("error", "kind", "kind is required")]),
    ("no metadata", with_(VS, metadata=None), [("error", "metadata.name", "metadata.name is required")]),
    ("metadata not a mapping", with_(VS, metadata="x"), [("error", "metadata", "metadata must be a mapping")]),
    ("no name", with_(VS, metadata={"namespace": "default"}), [("error", "metadata.name", "metadata.name is required")]),
    ("unknown kind", with_(VS, kind="WasmPlugin"), [("warning", "", "unknown kind WasmPlugin: skipped")]),
    ("version not served", with_(VS, apiVersion="networking.istio.io/v2"),
     [("error", "apiVersion", "apiVersion networking.istio.io/v2 is not served for VirtualService "
                              "(served: networking.istio.io/v1, networking.istio.io/v1beta1")]),
    ("wrong group", with_(VS, apiVersion="security.istio.io/v1"), [("error", "apiVersion", "is not served")]),
    ("old alpha served", with_(VS, apiVersion="networking.istio.io/v1alpha3"), []),
    ("core kind", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reviews"}, "spec": {}}, []),
    ("core kind wrong version", {"apiVersion": "v2", "kind": "Service", "metadata": {"name": "reviews"}},
     [("error", "apiVersion", "apiVersion v2 is not served for Service (served: v1)")]),
    ("uppercase name", with_(VS, name="Reviews"), [("error", "metadata.name", "must be a DNS-1123 subdomain")]),
    ("dotted name ok", with_(VS, name="reviews.v1"), []),
    ("service dotted name", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a.b"}},
     [("error", "metadata.name", "must be a DNS-1123 label")]),
    ("bad namespace", with_(VS, namespace="My_NS"), [("error", "metadata.namespace", "invalid namespace 'My_NS'")]),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in DOC_CASES], ids=[c[0] for c in DOC_CASES])
def test_validate_document(doc, expected):
    found = [(f.severity.value, f.field, f.message) for f in validate_document(doc, ORIGIN)]
    assert len(found) == len(expected), found
    for (severity, field, message), (want_sev, want_field, want_text) in zip(found, expected, strict=True):
        assert (severity, field) == (want_sev, want_field)
        assert want_text in message


def test_document_finding_line_names_file_resource_and_field():
    (finding,) = validate_document(with_(VS, apiVersion="networking.istio.io/v2"), ORIGIN)
    assert finding.line().startswith("mesh.yaml:7: VirtualService reviews: apiVersion: apiVersion networking")


def test_resource_finding_line_format():
    doc = with_(VS, namespace="bookinfo")
    doc["spec"]["http"][0]["route"][0]["weight"] = -3
    resource, findings = check_document(doc, Origin("vs.yaml", 3))
    assert resource is not None
    assert [f.line() for f in findings] == [
        "vs.yaml:3: VirtualService bookinfo/reviews: spec.http[0].route[0].weight: weight -3 < 0"]


def test_check_document_skips_unknown_and_broken_documents():
    assert check_document(with_(VS, kind="Deployment"), ORIGIN)[0] is None
    assert check_document(with_(VS, apiVersion=None), ORIGIN)[0] is None
    resource, findings = check_document(VS, ORIGIN, default_namespace="shop")
    assert resource is not None and resource.namespace == "shop" and findings == []


def test_warnings_print_their_severity():
    doc = with_(VS)
    doc["spec"]["gateways"] = ["gw.istio-system"]
    _, findings = check_document(doc, ORIGIN)
    assert [f.severity for f in findings] == [Severity.WARNING]
    assert ": warning: using legacy gatewayName format" in findings[0].line()


BOOKINFO = Path(__file__).resolve().parents[2] / "fixtures/istio/samples/bookinfo"
SAMPLES = [*sorted((BOOKINFO / "networking").glob("*.yaml")), BOOKINFO / "platform/kube/bookinfo.yaml"]


@pytest.mark.skipif(not BOOKINFO.exists(), reason="Istio fixtures not present")
@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_bookinfo_samples_have_no_errors(path):
    checked = 0
    for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
        resource, findings = check_document(doc, Origin(str(path), index))
        assert not [f.line() for f in findings if f.is_error]
        checked += resource is not None
    assert checked > 0


@pytest.mark.parametrize(("text", "seconds"), [
    ("10s", 10.0), ("0.5s", 0.5), ("100ms", 0.1), ("1m", 60.0), ("1h", 3600.0), ("1.5s", 1.5),
    ("1h30m", 5400.0), ("250us", 0.00025), ("0", 0.0), (".5s", 0.5), (" 2s ", 2.0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("value", "message"), [
    ("10", "use a number and a unit"), ("1.5", "use a number and a unit"), ("s", "use a number and a unit"),
    ("1x", "use a number and a unit"), ("-1s", "must not be negative"), ("", "must not be empty"),
    (10, "must be a string"), (None, "must be a string"),
])
def test_parse_duration_rejects(value, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


def test_format_duration_round_trips():
    for text in ("1.5s", "0.1s", "3600s", "0.00025s"):
        assert format_duration(parse_duration(text)) == text


JUNK = [None, 0, -1, True, "x", "", [], [None], [1, "a"], {}, {"a": None}, {"": []}, 1.5]


def _mutations(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every place in a document where a value can be replaced by junk."""
    out = [(path, value)] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _mutations(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _mutations(child, (*path, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], junk: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = junk
    return out


RICH_SPECS = {
    "VirtualService": {"hosts": ["a.com"], "gateways": ["ns/gw"], "http": [{
        "match": [{"uri": {"prefix": "/"}, "headers": {"x": {"exact": "1"}}, "queryParams": {"q": {"regex": "a"}}}],
        "route": [{"destination": {"host": "a", "subset": "v1", "port": {"number": 80}}, "weight": 100,
                   "headers": {"request": {"set": {"x": "1"}, "remove": ["y"]}}}],
        "retries": {"attempts": 1, "retryOn": "5xx"}, "fault": {"abort": {"httpStatus": 500, "percentage": {"value": 1}},
                                                               "delay": {"fixedDelay": "1s"}},
        "corsPolicy": {"allowOrigins": [{"exact": "x"}], "allowMethods": ["GET"], "maxAge": "1s"},
        "mirrors": [{"destination": {"host": "m"}, "percentage": {"value": 1}}], "timeout": "1s",
        "rewrite": {"uriRegexRewrite": {"match": "a", "rewrite": "b"}}}],
        "tcp": [{"match": [{"port": 1}], "route": [{"destination": {"host": "a"}}]}],
        "tls": [{"match": [{"sniHosts": ["a.com"]}], "route": [{"destination": {"host": "a"}}]}]},
    "DestinationRule": {"host": "a", "trafficPolicy": {
        "loadBalancer": {"consistentHash": {"httpCookie": {"name": "c", "ttl": "1s"}, "maglev": {"tableSize": 7}}},
        "connectionPool": {"tcp": {"maxConnections": 1}, "http": {"http2KeepAlive": {"interval": "1s"}}},
        "outlierDetection": {"interval": "1s"}, "tls": {"mode": "MUTUAL"},
        "portLevelSettings": [{"port": {"number": 1}, "tls": {"mode": "SIMPLE"}}],
        "tunnel": {"targetHost": "a.com", "targetPort": 1}},
        "subsets": [{"name": "v1", "labels": {"a": "b"}}], "exportTo": ["."]},
    "Sidecar": {"workloadSelector": {"labels": {"a": "b"}}, "ingress": [{"port": {"number": 1}, "tls": {"mode": "x"},
                                                                        "defaultEndpoint": "127.0.0.1:1"}],
                "egress": [{"port": {"number": 0}, "bind": "unix:///a", "hosts": ["./*"]}],
                "outboundTrafficPolicy": {"mode": "ALLOW_ANY", "egressProxy": {"host": "a"}}},
    "Gateway": {"selector": {"a": "b"}, "servers": [{"port": {"number": 1, "name": "a", "protocol": "HTTPS"},
                                                     "hosts": ["ns/a.com"], "tls": {"mode": "SIMPLE"}}]},
    "ServiceEntry": {"hosts": ["a.com"], "addresses": ["1.1.1.1"], "ports": [{"number": 1, "name": "a"}],
                     "resolution": "STATIC", "endpoints": [{"address": "1.1.1.1", "ports": {"a": 1}}]},
    "WorkloadEntry": {"address": "1.1.1.1", "ports": {"a": 1}, "labels": {"a": "b"}},
    "EnvoyFilter": {"configPatches": [{"applyTo": "CLUSTER", "match": {"cluster": {"portNumber": 1}},
                                       "patch": {"operation": "MERGE", "value": {}}}]},
    "PeerAuthentication": {"selector": {"matchLabels": {"a": "b"}}, "portLevelMtls": {"1": {"mode": "STRICT"}}},
    "AuthorizationPolicy": {"rules": [{"from": [{"source": {"ipBlocks": ["1.1.1.1"]}}],
                                       "to": [{"operation": {"ports": ["1"], "paths": ["/a"]}}],
                                       "when": [{"key": "source.ip", "values": ["1.1.1.1"]}]}]},
    "RequestAuthentication": {"jwtRules": [{"issuer": "a", "jwks": "{}", "fromHeaders": [{"name": "a"}],
                                            "outputClaimToHeaders": [{"header": "a", "claim": "b"}]}]},
    "RateLimitPolicy": {"rules": [{"match": {"path": {"exact": "/"}, "headers": {"a": {"exact": "b"}}},
                                   "limit": {"tokens": 1, "fillInterval": "1s"}, "descriptors": [{"header": "a"}],
                                   "response": {"status": 429, "headers": {"a": "b"}}}]},
    "Service": {"ports": [{"port": 1, "name": "a", "targetPort": 1}], "selector": {"a": "b"}},
}


@pytest.mark.parametrize("kind", sorted(RICH_SPECS))
def test_junk_anywhere_is_reported_never_crashes(kind):
    """Replace every value of a rich spec with values of the wrong type: validation must not raise
    and must not fall back to its internal-error finding (which would hide a validator bug)."""
    spec = RICH_SPECS[kind]
    for path, _ in _mutations(spec):
        for junk in JUNK:
            doc = {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": {"name": "x"},
                   "spec": _replace(spec, path, junk)}
            findings = validate_resource(resource_from_document(doc))
            crashed = [f.message for f in findings if "internal error" in f.message]
            assert not crashed, (path, junk, crashed)


def test_every_known_kind_has_a_validator():
    from pilot.model.kinds import KINDS
    assert set(KINDS) == set(VALIDATORS)
