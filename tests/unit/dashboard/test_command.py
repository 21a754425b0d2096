"""`pilot dashboard`: the URL of a running server's page, or one line and exit 1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pilot.cli import main
from pilot.testing.processes import free_port


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/dashboard/api/proxies"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b'{"proxies": []}' if ok else b"")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_prints_the_page_url(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--server", server, "--no-browser"]) == 0
    assert capsys.readouterr().out == f"http://{server}/dashboard\n"


def test_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--server", f"127.0.0.1:{free_port()}", "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pilot dashboard: cannot reach") and err.count("\n") == 1
