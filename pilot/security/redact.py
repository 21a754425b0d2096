"""Keep workload private keys out of debug output (`/debug/config_dump`, `pilot proxy-config secret`).

Envoy's own config dump redacts secrets the same way; the key is only ever for the proxy it was made for.
"""

from __future__ import annotations

from typing import Any

from pilot.translate.secrets import SECRET_TYPE_URL

REDACTED = "[redacted]"


def redact_private_keys(dump: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The config dump (type URL -> name -> JSON dict) with every Secret's private key replaced."""
    for secret in dump.get(SECRET_TYPE_URL, {}).values():
        cert = secret.get("tlsCertificate") if isinstance(secret, dict) else None
        if isinstance(cert, dict) and "privateKey" in cert:
            cert["privateKey"] = {"inlineString": REDACTED}
    return dump
