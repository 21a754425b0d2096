"""Telemetry validation: Istio's webhook checks (ValidateTelemetry), CEL filters parsed, CRD field names."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.validation.conftest import Check

ZIPKIN = [{"name": "zipkin"}]
CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("mesh tracing", {"tracing": [{"providers": ZIPKIN, "randomSamplingPercentage": 12.5}]}, []),
    ("sampling out of range", {"tracing": [{"randomSamplingPercentage": 101}]},
     [("spec.tracing[0].randomSamplingPercentage", "must be in range [0.0, 100.0]")]),
    ("sampling not a number", {"tracing": [{"randomSamplingPercentage": "10%"}]},
     [("spec.tracing[0].randomSamplingPercentage", "must be a number")]),
    ("two tracings, two providers", {"tracing": [{"providers": ZIPKIN * 2}, {}]},
     [("W", "spec.tracing", "multiple tracing is not currently supported"),
      ("W", "spec.tracing[0].providers", "multiple providers is not currently supported")]),
    ("empty provider name", {"tracing": [{"providers": [{"name": ""}]}]},
     [("spec.tracing[0].providers[0].name", "providers.name may not be empty")]),
    ("bad mode", {"tracing": [{"match": {"mode": "BOTH"}}]},
     [("spec.tracing[0].match.mode", "unsupported value 'BOTH'")]),
    ("tags", {"tracing": [{"customTags": {
        "ok": {"header": {"name": "x-a", "defaultValue": "-"}},
        "lit": {"literal": {"value": ""}},
        "env": {"environment": {"name": ""}},
        "two": {"literal": {"value": "a"}, "header": {"name": "b"}},
        "none": {}}}]},
     [("spec.tracing[0].customTags.lit.literal.value", "literal tag value may not be empty"),
      ("spec.tracing[0].customTags.env.environment.name", "environment tag name may not be empty"),
      ("spec.tracing[0].customTags.two", "must set exactly one of literal, environment, header, formatter"),
      ("spec.tracing[0].customTags.none", "must set exactly one of")]),
    ("access log filter ok", {"accessLogging": [{"providers": [{"name": "envoy"}],
                                                 "filter": {"expression": "response.code >= 400 && "
                                                                          "request.headers['x'] != 'y'"}}]}, []),
    ("access log filter broken", {"accessLogging": [{"filter": {"expression": "response.code >="}}]},
     [("spec.accessLogging[0].filter.expression", "must be a valid CEL expression, parse error at column 15")]),
    ("access log filter empty", {"accessLogging": [{"filter": {"expression": ""}}]},
     [("spec.accessLogging[0].filter.expression", "must be a valid CEL expression")]),
    ("disabled not a flag", {"accessLogging": [{"disabled": "yes"}]},
     [("spec.accessLogging[0].disabled", "must be true or false")]),
    ("unknown field from the CRD schema", {"accessLogging": [{"provider": [{"name": "envoy"}]}]},
     [("spec.accessLogging[0].provider", "unknown field")]),
    ("selector and targetRef", {"selector": {"matchLabels": {"app": "a"}},
                                "targetRef": {"kind": "Service", "group": "", "name": "a"}},
     [("spec", "only one of targetRefs or workloadSelector can be set"),
      ("W", "spec", "with targetRefs it applies to no workload")]),
    ("metrics overrides", {"metrics": [{"providers": [{"name": "prometheus"}], "overrides": [
        {"match": {"metric": "REQUEST_COUNT"}, "tagOverrides": {"a": {"operation": "UPSERT"},
                                                                "b": {"operation": "REMOVE", "value": "x"}}}]}]},
     [("spec.metrics[0].overrides[0].tagOverrides.a.value", "must be set when operation is UPSERT"),
      ("spec.metrics[0].overrides[0].tagOverrides.b.value", "may only be set when operation is UPSERT")]),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_telemetry(check: Check, spec: Any, expected: list[tuple[str, ...]]) -> None:
    check("Telemetry", spec, expected)


def test_v1alpha1_is_served_too() -> None:
    from pilot.model.kinds import KINDS

    assert KINDS["Telemetry"].accepts("telemetry.istio.io/v1alpha1") and KINDS["Telemetry"].accepts(
        "telemetry.istio.io/v1")
