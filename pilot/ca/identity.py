"""SPIFFE identities as Istio spells them: ``spiffe://<trust domain>/ns/<namespace>/sa/<service account>``.

Istio builds and parses these in ``pkg/spiffe/spiffe.go``; the shape is fixed (exactly the ``ns`` and ``sa``
segments) so that authorization policies and peers can read the namespace and service account back.
See https://istio.io/latest/docs/concepts/security/#istio-identity
"""

from __future__ import annotations

from typing import NamedTuple

SCHEME = "spiffe://"


class InvalidSpiffeId(ValueError):
    """A URI that is not a well-formed Istio workload identity."""


class Identity(NamedTuple):
    """A workload identity inside one trust domain: the key certificates are issued and shared by."""

    ns: str
    sa: str


def sanitize_trust_domain(trust_domain: str) -> str:
    # Istio replaces '@' (allowed in some mesh configs, not in a URI authority) by '.'.
    return trust_domain.replace("@", ".")


def _check_segment(kind: str, value: str) -> None:
    if not value:
        raise InvalidSpiffeId(f"empty {kind}")
    if "/" in value or any(ch.isspace() for ch in value):
        raise InvalidSpiffeId(f"{kind} {value!r} contains '/' or whitespace")


def spiffe_id(trust_domain: str, ns: str, sa: str) -> str:
    """The SPIFFE URI of service account ``sa`` in namespace ``ns``; InvalidSpiffeId on empty parts."""
    td = sanitize_trust_domain(trust_domain)
    _check_segment("trust domain", td)
    _check_segment("namespace", ns)
    _check_segment("service account", sa)
    return f"{SCHEME}{td}/ns/{ns}/sa/{sa}"


def parse_spiffe_id(uri: str) -> tuple[str, str, str]:
    """``(trust_domain, ns, sa)`` of an Istio SPIFFE URI; raises InvalidSpiffeId for any other shape."""
    if not uri.startswith(SCHEME):
        raise InvalidSpiffeId(f"{uri!r} does not start with {SCHEME}")
    parts = uri[len(SCHEME) :].split("/")
    if len(parts) != 5 or parts[1] != "ns" or parts[3] != "sa":
        raise InvalidSpiffeId(f"{uri!r} is not spiffe://<trust domain>/ns/<ns>/sa/<sa>")
    td, _, ns, _, sa = parts
    for kind, value in (("trust domain", td), ("namespace", ns), ("service account", sa)):
        _check_segment(kind, value)
    return td, ns, sa
