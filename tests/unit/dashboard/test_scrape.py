import pytest

from pilot.dashboard.scrape import http_body, targets_of


def test_chunked_body_is_decoded() -> None:
    raw = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n"
           b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n")
    assert http_body(raw) == b"hello, world"


def test_content_length_and_read_to_close() -> None:
    assert http_body(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef") == b"abc"
    assert http_body(b"HTTP/1.0 200 OK\r\n\r\nall of it") == b"all of it"


@pytest.mark.parametrize("raw", [b"HTTP/1.1 426 Upgrade Required\r\n\r\n", b"",
                                 b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nff\r\nshort"])
def test_not_a_page(raw: bytes) -> None:
    with pytest.raises(OSError):
        http_body(raw)


def test_targets_are_the_admin_ip_on_loopback_else_the_pod_ip() -> None:
    nodes = ["sidecar~127.10.0.12~reviews-v1-0.default~default.svc.cluster.local",
             "router~10.1.2.3~gw-0.istio-system~istio-system.svc.cluster.local", "not-a-node-id"]
    assert [(t.host, t.url) for t in targets_of(nodes, 15090)] == [
        ("127.10.2.12", "http://127.10.2.12:15090/stats/prometheus"),
        ("10.1.2.3", "http://10.1.2.3:15090/stats/prometheus")]
