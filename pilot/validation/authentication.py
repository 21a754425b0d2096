"""PeerAuthentication and RequestAuthentication
(https://istio.io/latest/docs/reference/config/security/peer_authentication/,
https://istio.io/latest/docs/reference/config/security/request_authentication/)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from pilot.validation.fields import check_duration, check_enum, check_workload_labels, port_error
from pilot.validation.matchers import check_header_value
from pilot.validation.node import Node, Report

MTLS_MODES = ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")
MAX_JWKS_URI = 2048  # the CRD's maxLength for jwksUri
MAX_SPACE_DELIMITED_CLAIMS = 64  # the CRD's maxItems
_STRICT_HEADER_CHARS = frozenset("-_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def check_policy_target(spec: Node) -> None:
    """The workload a security policy applies to: a selector, or a targetRef(s), not both."""
    chosen = spec.keys_present("selector", "targetRef", "targetRefs")
    if len(chosen) > 1:
        spec.error("only one of targetRefs or workloadSelector can be set")
    check_workload_labels(spec["selector"]["matchLabels"])
    refs = [spec["targetRef"]] if spec.has("targetRef") else spec["targetRefs"].items()
    for ref in refs:
        if not ref["name"].text():
            ref["name"].error("targetRef name must be set")
        if ref["namespace"].text():
            ref["namespace"].error(
                "targetRef namespace must not be set; cross namespace referencing is not supported")


def validate_peer_authentication(report: Report, spec: Node) -> None:
    check_policy_target(spec)
    check_enum(spec["mtls"]["mode"], MTLS_MODES)
    port_level = spec["portLevelMtls"]
    has_selector = bool(spec["selector"]["matchLabels"].value)
    if port_level.present:
        # Port-level mTLS names workload ports, so it needs a workload (Istio checks the same).
        if not has_selector:
            port_level.error("mesh/namespace peer authentication cannot have port level mTLS")
        entries = port_level.entries()
        if isinstance(port_level.value, dict) and not entries:
            port_level.error("port level mTLS, if defined, must have at least one element")
        for port, setting in entries:
            if not port.isdigit() or not 1 <= int(port) <= 65535:
                setting.error("port must be in range 1..65535")
            check_enum(setting["mode"], MTLS_MODES)


def validate_request_authentication(report: Report, spec: Node) -> None:
    check_policy_target(spec)
    for rule in spec["jwtRules"].items():
        _check_jwt_rule(rule)


def _check_jwt_rule(rule: Node) -> None:
    for item, audience in rule["audiences"].strings():
        if not audience:
            item.error("audience must be non-empty string")
    uris = [(node, uri) for node in (rule["jwksUri"], rule["jwks_uri"]) if (uri := node.text())]
    issuer, jwks = rule["issuer"].text(), rule["jwks"].text()
    if not issuer and not uris:
        rule.error("issuer or jwksUri must be non-empty string")
    for node, uri in uris:
        _check_jwks_uri(node, uri)
    # The CRD counts the snake_case spelling too: jwks, jwksUri and jwks_uri are one choice.
    if len(uris) + bool(jwks) > 1:
        rule.error("only one of jwks or jwksUri can be set")
    if jwks:
        try:
            keys = json.loads(jwks)
        except ValueError as problem:
            rule["jwks"].error(f"jwks parse error: {problem}")
        else:
            if not isinstance(keys, dict) or not isinstance(keys.get("keys", keys.get("kty")), list | str):
                rule["jwks"].error('jwks parse error: expected a JSON Web Key Set ({"keys": [...]})')
            elif unusable := _jwks_problem(keys):
                rule["jwks"].error(unusable)
    claims = rule["spaceDelimitedClaims"].strings()
    if len(claims) > MAX_SPACE_DELIMITED_CLAIMS:
        rule["spaceDelimitedClaims"].error(f"must have at most {MAX_SPACE_DELIMITED_CLAIMS} items")
    for item, spaced in claims:
        if not spaced:
            item.error("space delimited claim must be non-empty string")
    for header in rule["fromHeaders"].items():
        if not header["name"].text():
            header["name"].error("location header name must be non-empty string")
        check_header_value(header["prefix"], "location header prefix")
    for item, param in rule["fromParams"].strings():
        if not param:
            item.error("location query must be non-empty string")
    for item, cookie in rule["fromCookies"].strings():
        if not cookie:
            item.error("cookie name must be non-empty string")
    for output in rule["outputClaimToHeaders"].items():
        name, claim = output["header"].text(), output["claim"].text()
        if not name or not claim:
            output.error("outputClaimToHeaders header and claim value must be non-empty string")
        elif not set(name) <= _STRICT_HEADER_CHARS:
            output["header"].error(f"header name {name} is not a valid header name")
    check_duration(rule["timeout"])


# Members a key needs for Envoy's jwt_authn to use it (RFC 7518 section 6); a set without one usable key
# makes Envoy refuse the whole filter ("Jwks doesn't have any valid public key").
_KEY_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "oct": ("k",), "OKP": ("crv", "x")}


def _jwks_problem(jwks: dict[str, Any]) -> str | None:
    keys = jwks.get("keys", [jwks])
    usable = [k for k in keys if isinstance(k, dict) and isinstance(k.get("kty"), str)
              and all(isinstance(k.get(m), str) and k.get(m) for m in _KEY_MEMBERS.get(k["kty"], ("?",)))]
    if not usable:
        return ("jwks has no usable key: each needs kty (RSA, EC, oct or OKP) and that type's members "
                "(RSA: n, e; EC: crv, x, y; oct: k; OKP: crv, x)")
    return None


def _check_jwks_uri(node: Node, uri: str) -> None:
    """Istio parses the URI for the host and port it fetches keys from (pkg/config/security ParseJwksURI);
    the port must also be one a cluster can dial, and the CRD caps the length."""
    if len(uri) > MAX_JWKS_URI:
        node.error(f"jwksUri must be at most {MAX_JWKS_URI} characters")
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        node.error("url must have scheme http:// or https://")
        return
    host = parsed.netloc.rpartition("@")[2]
    port = host.rpartition(":")[2] if ":" in host.rpartition("]")[2] else ""
    if port and not port.isdigit():
        node.error(f"jwksUri {uri!r}: invalid port {port!r}")
    elif port and (problem := port_error(int(port))):
        node.error(f"jwksUri {uri!r}: {problem}")
