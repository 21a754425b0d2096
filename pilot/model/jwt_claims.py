"""VirtualService claim routing keys: `@request.auth.claims.<a>.<b>` or `@request.auth.claims[<a>][<b>]`.

A `headers`/`withoutHeaders` key of that form matches a claim of the JWT validated by RequestAuthentication
instead of a request header (https://istio.io/latest/docs/tasks/security/authentication/jwt-route/).
Parsing follows istiod's rules (pkg/jwt routing claims): the prefix is compared case-insensitively, claim
names keep their case, a `.` right after the prefix splits on dots, otherwise `[...]` splits on `][`.
"""

from __future__ import annotations

HEADER_JWT_CLAIM = "@request.auth.claims"


def routing_claim(key: str) -> tuple[str, ...] | None:
    """The claim path a match key names (nested claims give several names), None for a plain header."""
    if not key.lower().startswith(HEADER_JWT_CLAIM):
        return None
    rest = key[len(HEADER_JWT_CLAIM):]
    if rest.startswith(".") and len(rest) > 1:
        return tuple(rest[1:].split("."))
    if rest.startswith("[") and rest.endswith("]") and len(rest) > 2:
        return tuple(rest[1:-1].split("]["))
    return None


def is_claim_key(key: str) -> bool:
    return routing_claim(key) is not None
