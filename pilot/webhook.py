"""The validating admission webhook (Galley's role): AdmissionReview v1 in, allow or deny out.

The Kubernetes API server POSTs an AdmissionReview for every create/update of the kinds routed here by
deploy/validatingwebhookconfiguration.yaml and rejects the write if we answer `allowed: false`.
https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#webhook-request-and-response
Validation itself is injected (`pilot validate`'s per-resource validator), so the messages match it.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pilot.model.findings import Finding
from pilot.model.kinds import KINDS, internal_kind
from pilot.model.resource import Origin, Resource, resource_from_document

log = logging.getLogger(__name__)

Validator = Callable[[Resource], list[Finding]]
REVIEW_API_VERSION = "admission.k8s.io/v1"
MAX_BODY = 8 * 1024 * 1024  # an object may be ~1.5 MiB and a review carries the old one too


class BadReview(ValueError):
    """The request is not an AdmissionReview v1 we can answer (HTTP 400)."""


def finding_text(f: Finding) -> str:
    """`KIND NAMESPACE/NAME: FIELD.PATH: message`: what `pilot validate` prints after FILE:LINE."""
    parts = [p for p in (f.resource_ref, f.field) if p]
    parts.append(f.message if f.is_error else f"{f.severity.value}: {f.message}")
    return ": ".join(parts)


def review(body: Mapping[str, Any], validate: Validator) -> dict[str, Any]:
    """Answer one AdmissionReview (a pure function of the request and the validator)."""
    if body.get("apiVersion") != REVIEW_API_VERSION or body.get("kind") != "AdmissionReview":
        raise BadReview(f"expected apiVersion {REVIEW_API_VERSION}, kind AdmissionReview")
    request = body.get("request")
    if not isinstance(request, Mapping) or not request.get("uid"):
        raise BadReview("AdmissionReview has no request.uid")
    response = _decide(request, validate)
    return {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview",
            "response": {"uid": request["uid"], **response}}


def _decide(request: Mapping[str, Any], validate: Validator) -> dict[str, Any]:
    if request.get("operation") not in ("CREATE", "UPDATE"):
        return {"allowed": True}  # deleting or connecting never makes config invalid
    obj = request.get("object")
    if not isinstance(obj, Mapping):
        return _deny(400, "BadRequest", "the request carries no object to validate", [])
    kind = str(obj.get("kind") or (request.get("kind") or {}).get("kind") or "")
    info = KINDS.get(internal_kind(str(obj.get("apiVersion", "")), kind))
    if info is None or not info.accepts(str(obj.get("apiVersion", ""))):
        return _deny(400, "BadRequest", f"unrecognized type {obj.get('apiVersion')}/{kind}", [])
    meta = dict(obj.get("metadata") or {})
    # On create the object may have no namespace (taken from the URL) or only a generateName.
    meta.setdefault("namespace", request.get("namespace") or "")
    meta["name"] = meta.get("name") or request.get("name") or meta.get("generateName") or ""
    doc = {**obj, "metadata": meta}
    res = resource_from_document(doc, origin=Origin(path=f"k8s://{kind}/{meta['namespace']}/{meta['name']}"),
                                 default_namespace=str(request.get("namespace") or "default"))
    try:
        findings = validate(res)
    except Exception:
        log.exception("validator failed on %s", res)
        return _deny(500, "InternalError", f"internal error validating {res}", [])
    errors = [f for f in findings if f.is_error]
    warnings = [finding_text(f) for f in findings if not f.is_error]
    out: dict[str, Any] = {"allowed": True} if not errors else _deny(
        422, "Invalid", "configuration is invalid: " + "; ".join(finding_text(f) for f in errors), errors)
    if warnings:
        out["warnings"] = warnings
    return out


def _deny(code: int, reason: str, message: str, errors: list[Finding]) -> dict[str, Any]:
    status: dict[str, Any] = {"status": "Failure", "code": code, "reason": reason, "message": message}
    if errors:
        # The API server passes these through to kubectl as field-level causes.
        status["details"] = {"causes": [{"reason": "FieldValueInvalid", "field": f.field,
                                         "message": f.message} for f in errors]}
    return {"allowed": False, "status": status}


def handle(body: bytes, validate: Validator) -> tuple[int, dict[str, Any]]:
    """HTTP-level answer for a POST body: (status code, JSON payload)."""
    try:
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise BadReview("body is not a JSON object")
        return 200, review(parsed, validate)
    except (ValueError, BadReview) as e:
        return 400, {"error": str(e)}


class WebhookServer:
    """HTTPS server for `POST /validate` (and `GET /ready`), on a certificate the caller provides."""

    def __init__(self, host: str, port: int, certfile: Path, keyfile: Path, validate: Validator) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(certfile), str(keyfile))
        handler = type("Handler", (_WebhookHandler,), {"validate": staticmethod(validate)})
        self._server = _QuietServer((host, port), handler)
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True,
                                              do_handshake_on_connect=False)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Failed TLS handshakes and clients that hang up are routine; don't print tracebacks.
        log.debug("webhook: connection from %s failed", client_address, exc_info=True)


class _WebhookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    validate: Validator

    def setup(self) -> None:
        super().setup()
        self.request.settimeout(10)  # the handshake runs here, not in the accept loop
        self.request.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("webhook: " + format, *args)

    def do_GET(self) -> None:
        self._reply(200 if self.path == "/ready" else 404, {"ready": self.path == "/ready"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.path.split("?")[0].rstrip("/") != "/validate":
            self._reply(404, {"error": f"no handler for {self.path}"})
        elif length > MAX_BODY:
            self._reply(413, {"error": "request too large"})
            self.close_connection = True
        elif (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            self._reply(415, {"error": "expected Content-Type application/json"})
        else:
            self._reply(*handle(self.rfile.read(length), self.validate))

    def _reply(self, code: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
