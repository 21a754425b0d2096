"""Telemetry (telemetry.istio.io/v1, v1alpha1): the checks of Istio's webhook (ValidateTelemetry in
istio/istio pkg/config/validation), with the messages users can search for.
https://istio.io/latest/docs/reference/config/telemetry/
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pilot.validation.authentication import check_policy_target
from pilot.validation.fields import check_enum
from pilot.validation.node import Node, Report

WORKLOAD_MODES = ("CLIENT_AND_SERVER", "CLIENT", "SERVER")
TAG_TYPES = ("literal", "environment", "header", "formatter")
TAG_OPERATIONS = ("UPSERT", "REMOVE")
METRICS = ("ALL_METRICS", "REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE",
           "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES", "TCP_RECEIVED_BYTES",
           "GRPC_REQUEST_MESSAGES", "GRPC_RESPONSE_MESSAGES")


def validate_telemetry(report: Report, spec: Node) -> None:
    check_policy_target(spec)
    if spec.has("targetRef") or spec.has("targetRefs"):
        spec.warning("meshpilot attaches Telemetry by selector or namespace only; with targetRefs it applies "
                     "to no workload")
    _check_tracing(spec["tracing"])
    for entry in spec["accessLogging"].items():
        _check_providers(entry["providers"])
        check_enum(entry["match"]["mode"], WORKLOAD_MODES)
        entry["disabled"].flag()
        expression = entry["filter"]["expression"]
        text = expression.text()
        if entry["filter"].present and text is not None:
            problem = cel_problem(text)
            if problem:
                expression.error(f"must be a valid CEL expression, {problem}")
    _check_metrics(spec["metrics"])


def _check_tracing(tracing: Node) -> None:
    entries = tracing.items()
    if len(entries) > 1:
        tracing.warning("multiple tracing is not currently supported")
    for entry in entries:
        providers = entry["providers"].items()
        if len(providers) > 1:
            entry["providers"].warning("multiple providers is not currently supported")
        _check_providers(entry["providers"])
        check_enum(entry["match"]["mode"], WORKLOAD_MODES)
        percent = entry["randomSamplingPercentage"].number()
        if percent is not None and not 0 <= percent <= 100:
            entry["randomSamplingPercentage"].error("randomSamplingPercentage must be in range [0.0, 100.0]")
        for flag in ("disableSpanReporting", "useRequestIdForTraceSampling", "enableIstioTags",
                     "disableContextPropagation"):
            entry[flag].flag()
        for name, tag in entry["customTags"].entries():
            _check_custom_tag(name, tag)


def _check_custom_tag(name: str, tag: Node) -> None:
    if not name:
        tag.error("tag name may not be empty")
    if tag.value is None:
        tag.error(f"tag '{name}' may not have a nil value")
        return
    kinds = tag.keys_present(*TAG_TYPES)
    if len(kinds) != 1:
        # The CRD makes the tag types a oneOf.
        tag.error(f"tag '{name}' must set exactly one of {', '.join(TAG_TYPES)}")
        return
    kind = kinds[0]
    field = {"literal": "value", "environment": "name", "header": "name", "formatter": "value"}[kind]
    if not tag[kind][field].text():
        tag[kind][field].error(f"{kind} tag {field} may not be empty" if kind != "literal"
                               else "literal tag value may not be empty")
    tag[kind]["defaultValue"].text()


def _check_metrics(metrics: Node) -> None:
    for entry in metrics.items():
        _check_providers(entry["providers"])
        for override in entry["overrides"].items():
            if override.value is None:
                override.error("tagOverrides may not be null")
                continue
            check_enum(override["match"]["metric"], METRICS)
            check_enum(override["match"]["mode"], WORKLOAD_MODES)
            if override["match"].has("customMetric") and not override["match"]["customMetric"].text():
                override["match"]["customMetric"].error("customMetric may not be empty")
            for tag_name, tag in override["tagOverrides"].entries():
                if not tag_name:
                    tag.warning("tagOverrides.name may not be empty")
                operation = check_enum(tag["operation"], TAG_OPERATIONS) or "UPSERT"
                value = tag["value"].text()
                if operation == "UPSERT" and not value:
                    tag["value"].error("tagOverrides.value must be set when operation is UPSERT")
                if operation == "REMOVE" and value:
                    tag["value"].error("tagOverrides.value may only be set when operation is UPSERT")


def _check_providers(providers: Node) -> None:
    for provider in providers.items():
        if not provider["name"].text():
            provider["name"].error("providers.name may not be empty")


def cel_problem(expression: str) -> str | None:
    """Why `expression` does not parse as CEL (Istio's webhook parses it with cel-go), or None.
    Envoy's CEL access log filter rejects the whole listener on an expression it cannot parse."""
    try:
        _cel_environment().compile(expression)
    except Exception as problem:  # celpy's CELParseError: the expression, then a caret line
        carets = [line.index("^") for line in str(problem).splitlines() if line.strip() == "^"]
        return f"parse error at column {carets[0] + 1}" if carets else "parse error"
    return None


@cache
def _cel_environment() -> Any:
    import celpy  # imported on first use: the parser takes a moment to build

    return celpy.Environment()
