"""What a new user hits first: every CLI failure is one line on stderr and a non-zero exit, never a
traceback and never a silent success (issue #10)."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pilot.cli import main

REPO = Path(__file__).resolve().parents[2]
BOOKINFO = str(REPO / "policies/bookinfo")
NODE = "sidecar~127.10.0.10~productpage-v1-0.default~default.svc.cluster.local"


def one_line(err: str, text: str) -> None:
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert text in err, err


def pilot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pilot", *args], capture_output=True, text=True, timeout=60,
                          cwd=REPO)


@pytest.mark.parametrize("argv", [
    ["validate", "{p}"], ["validate", "-o", "json", "{p}"], ["analyze", "{p}"],
    ["graph", "--config", "{p}", "-o", "{p}.svg"], ["simulate", "--config", "{p}", "--from", "a.b", "--url", "http://x/"],
    ["test", "{p}"],
])
def test_a_missing_path_is_exit_2_and_one_line(argv: list[str], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "my-mesh")
    assert main([a.format(p=missing) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert err == f"pilot {argv[0]}: no such file or directory: {missing}\n"
    assert out == ""


def test_serve_with_a_missing_config_dir_exits_2_instead_of_serving_nothing(tmp_path: Path) -> None:
    missing = str(tmp_path / "my-mesh")
    p = subprocess.run([sys.executable, "-m", "pilot", "serve", "--config", missing, "--xds-address", "127.0.0.1:0",
                        "--http-address", "127.0.0.1:0"], capture_output=True, text=True, timeout=30, cwd=REPO)
    assert p.returncode == 2
    assert p.stderr == f"pilot serve: no such file or directory: {missing}\n"


def test_one_missing_path_among_good_ones_still_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", BOOKINFO, "nope/"]) == 2
    one_line(capsys.readouterr().err, "pilot validate: no such file or directory: nope/")


def test_validate_json_lists_findings_with_exit_code_as_text(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "vs.yaml"
    f.write_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                 "metadata: {name: reviews, namespace: default}\n"
                 "spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}, weight: -3}]}]}\n"
                 "---\napiVersion: v1\nkind: Frobnicator\nmetadata: {name: x}\n")
    assert main(["validate", "-o", "json", str(f)]) == 1
    findings = json.loads(capsys.readouterr().out)
    error = next(x for x in findings if x["severity"] == "error")
    assert {k: error[k] for k in ("file", "line", "kind", "namespace", "name", "field")} == {
        "file": str(f), "line": 1, "kind": "VirtualService", "namespace": "default", "name": "reviews",
        "field": "spec.http[0].route[0].weight"}
    assert "weight -3 < 0" in error["message"]
    assert any(x["severity"] == "warning" and x["line"] == 6 and x["kind"] == "Frobnicator" for x in findings)
    assert main(["validate", "-o", "json", BOOKINFO]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_graph_png_needs_no_system_converter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no rsvg-convert, no ImageMagick
    out = tmp_path / "mesh.png"
    assert main(["graph", "--config", BOOKINFO, "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(out.read_bytes()) > 20_000  # a real picture, not an empty canvas


@pytest.mark.parametrize("argv", [
    ["graph", "--config", BOOKINFO, "-o", "{d}/mesh.svg"],
    ["graph", "--config", BOOKINFO, "-o", "{d}/mesh.png"],
    ["bootstrap", "--node-id", NODE, "-o", "{d}/pp.yaml"],
])
def test_an_unwritable_output_is_one_line(argv: list[str], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "no-such-dir"
    assert main([a.format(d=d) for a in argv]) == 1
    one_line(capsys.readouterr().err, f"pilot {argv[0]}: cannot write {d}/")


def test_dev_kube_apiserver_with_an_unwritable_kubeconfig_is_one_line(tmp_path: Path) -> None:
    p = pilot("dev", "kube-apiserver", "--port", "0", "--kubeconfig-out", str(tmp_path / "nope/kc"))
    assert p.returncode == 1
    one_line(p.stderr, "pilot dev kube-apiserver: cannot write")


def _big_invalid_mesh(tmp_path: Path) -> Path:
    """Enough findings to fill a pipe buffer many times over."""
    doc = ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs{i}, namespace: default}}\n"
           "spec: {{hosts: [r{i}], http: [{{route: [{{destination: {{host: r{i}}}, weight: -3}}]}}]}}\n")
    f = tmp_path / "big.yaml"
    f.write_text("---\n".join(doc.format(i=i) for i in range(3000)))
    return f


@pytest.mark.parametrize("argv", [["validate"], ["validate", "-o", "json"]])
def test_a_reader_that_stops_early_ends_the_command_quietly(argv: list[str], tmp_path: Path) -> None:
    """`pilot validate big | head -1`: the first line, then a quiet non-zero exit."""
    big = _big_invalid_mesh(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "pilot", *argv, str(big)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) != 0
    assert first.strip()
    assert "Traceback" not in err and "Broken pipe" not in err and "Exception ignored" not in err, err


def test_serve_kube_without_a_kubeconfig_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    free = ["--xds-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"]
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    # kubernetes reads $KUBECONFIG and ~ when imported: a fresh process, with neither pointing anywhere.
    p = subprocess.run([sys.executable, "-m", "pilot", "serve", "--kube", *free], capture_output=True, text=True,
                       timeout=30, cwd=REPO, env={**env, "KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)})
    assert p.returncode == 2
    one_line(p.stderr, "pilot serve: kubeconfig: ")
    assert main(["serve", "--kube", "--kubeconfig", str(tmp_path / "kc"), *free]) == 2
    one_line(capsys.readouterr().err, f"pilot serve: no such file or directory: {tmp_path / 'kc'}")
    (tmp_path / "kc").write_text("{not yaml: [")
    assert main(["serve", "--kube", "--kubeconfig", str(tmp_path / "kc"), *free]) == 2
    one_line(capsys.readouterr().err, "pilot serve: kubeconfig ")


def test_serve_flag_mistakes_are_one_line_before_anything_starts(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    base = ["serve", "--config", BOOKINFO, "--xds-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = f"127.0.0.1:{busy.getsockname()[1]}"
        for flag in ("--xds-address", "--http-address"):
            assert main([*base, flag, taken]) == 1
            one_line(capsys.readouterr().err, f"pilot serve: {flag}: cannot listen on {taken}")
    bad_mesh = tmp_path / "mesh.yaml"
    bad_mesh.write_text("a: [")
    for extra, text in ((["--xds-address", "bogus"], "--xds-address 'bogus': want HOST:PORT"),
                        (["--mesh-config", str(bad_mesh)], "--mesh-config"),
                        (["--mesh-config", str(tmp_path / "none.yaml")], "no such file or directory"),
                        (["--ca-dir", str(tmp_path / "ca"), "--cert-ttl", "soon"], "--cert-ttl: invalid duration"),
                        (["--ratelimit-redis", "localhost"], "--ratelimit-redis"),
                        (["--webhook-address", "127.0.0.1:0", "--webhook-cert-dir", str(tmp_path)],
                         "--webhook-address needs --webhook-cert-dir")):
        assert main([*base, *extra]) == 2, extra
        one_line(capsys.readouterr().err, f"pilot serve: {text}")


def test_serve_that_fails_while_starting_stops_and_says_why(tmp_path: Path) -> None:
    ca = "/proc/no-such-ca-dir"  # creating a directory there fails for root too
    p = pilot("serve", "--config", BOOKINFO, "--xds-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0",
              "--ca-dir", ca)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr, p.stderr
    assert p.stderr.splitlines()[-1].startswith("pilot serve: ") and ca in p.stderr.splitlines()[-1], p.stderr


@contextmanager
def _server(answer: bytes | None) -> Iterator[str]:
    """A TCP server on loopback answering every connection with `answer` (None: a tiny HTTP server
    whose /debug/syncz lists no proxies)."""
    if answer is None:
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"[]" if self.path == "/debug/syncz" else b"<html>not pilot</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_a: object) -> None:
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            yield f"127.0.0.1:{srv.server_address[1]}"
        finally:
            srv.shutdown()
            srv.server_close()
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)
                conn.sendall(answer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        t.join(2)
        sock.close()


def test_proxy_config_and_status_against_something_that_is_not_pilot(capsys: pytest.CaptureFixture[str]) -> None:
    with _server(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00garbage\r\n\r\n") as garbage:  # like a gRPC port
        assert main(["proxy-config", "cluster", "a.default", "--server", garbage]) == 1
        one_line(capsys.readouterr().err, f"pilot proxy-config: cannot reach {garbage}: not an HTTP/1 answer")
        assert main(["proxy-status", "--server", garbage]) == 1
        one_line(capsys.readouterr().err, f"pilot proxy-status: cannot reach {garbage}")
    with _server(None) as web:
        assert main(["proxy-status", "--server", web]) == 0  # HOST:PORT, as for proxy-config
        assert main(["proxy-config", "cluster", "a.default", "--server", web]) == 1
        one_line(capsys.readouterr().err, "with something other than JSON")
    assert main(["proxy-config", "cluster", "a.default", "--server", "127.0.0.1:port"]) == 1
    one_line(capsys.readouterr().err, "pilot proxy-config: bad --server '127.0.0.1:port'")


def test_policy_test_file_that_is_not_yaml_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("kind: PolicyTest\nspec: *nope\n")
    assert main(["test", str(f)]) == 2
    one_line(capsys.readouterr().err, f"pilot test: {f}:2: YAML syntax error")
    f.write_text("apiVersion: meshpilot.io/v1alpha1\nkind: PolicyTest\nmetadata: {name: t}\n"
                 "spec: {config: [no-such-dir], cases: []}\n")
    assert main(["test", str(f)]) == 2
    one_line(capsys.readouterr().err, "spec.config: no such file or directory")


def test_more_bad_input_found_by_trying_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "--node-id", NODE, "--xds-address", "pilot"]) == 2
    one_line(capsys.readouterr().err, "pilot bootstrap: --xds-address 'pilot': want HOST:PORT")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xa3\xff\x00" * 100)
    assert main(["dev", "apply", "-f", str(binary), "--kubeconfig", str(tmp_path / "kc")]) == 1
    one_line(capsys.readouterr().err, f"pilot dev apply: {binary}: cannot read")
    assert main(["serve", "--config", BOOKINFO, "--debounce", "-1"]) == 2
    one_line(capsys.readouterr().err, "pilot serve: --debounce -1: want seconds >= 0")


def test_demo_with_a_missing_mesh_dir_exits_2(tmp_path: Path) -> None:
    p = pilot("demo", "--config", str(tmp_path / "nope"), "--duration", "1")
    assert p.returncode == 2
    assert p.stderr == f"pilot demo: no such file or directory: {tmp_path / 'nope'}\n"


def test_ctrl_c_in_a_short_command_is_exit_130_without_a_traceback(tmp_path: Path) -> None:
    big = _big_invalid_mesh(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "pilot", "analyze", str(big)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    time.sleep(1.5)  # analysing 3000 resources takes longer than that
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
