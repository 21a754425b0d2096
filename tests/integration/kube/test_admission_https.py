"""The webhook over HTTPS, as the API server calls it (TLS with the CA from the webhook config)."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from pilot.testing.tls import self_signed
from pilot.webhook import WebhookServer
from tests.unit.test_webhook import admission_review, fake_validator, vs


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[tuple[WebhookServer, ssl.SSLContext]]:
    tls = self_signed(dns_names=("meshpilot.meshpilot.svc",))
    cert, key = tls.write(tmp_path)
    server = WebhookServer("127.0.0.1", 0, cert, key, fake_validator).start()
    ctx = ssl.create_default_context(cadata=tls.cert_pem.decode())
    yield server, ctx
    server.stop()


def post(server: WebhookServer, ctx: ssl.SSLContext, body: bytes,
         ctype: str = "application/json") -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=5)
    try:
        conn.request("POST", "/validate?timeout=10s", body, {"Content-Type": ctype})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_https_review_allows_valid_and_denies_invalid(webhook: tuple[WebhookServer, ssl.SSLContext]) -> None:
    server, ctx = webhook
    code, ok = post(server, ctx, json.dumps(admission_review(vs())).encode())
    assert code == 200 and ok["response"] == {"uid": "705ab4f5-6393-11e8", "allowed": True}
    code, bad = post(server, ctx, json.dumps(admission_review(vs(weights=(70, 20)))).encode())
    response = bad["response"]
    assert code == 200 and isinstance(response, dict) and response["allowed"] is False
    assert "spec.http[0].route: weights sum to 90, not 100" in response["status"]["message"]


def test_https_rejects_wrong_content_type_and_untrusted_clients_fail(
        webhook: tuple[WebhookServer, ssl.SSLContext]) -> None:
    server, ctx = webhook
    assert post(server, ctx, b"{}", ctype="text/plain")[0] == 415
    with pytest.raises(ssl.SSLCertVerificationError):
        post(server, ssl.create_default_context(), b"{}")
