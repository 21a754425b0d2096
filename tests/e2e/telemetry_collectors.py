"""Tiny trace collectors for the telemetry e2e tests: Zipkin v2 JSON over HTTP and OTLP over gRPC.

Both run in the test process on a loopback address of the test's own block and turn what Envoy sends
into `Span`s, so tests assert on one shape whichever protocol carried it.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    kind: str  # CLIENT | SERVER
    service: str
    tags: tuple[tuple[str, str], ...]

    def tag(self, name: str) -> str:
        return dict(self.tags).get(name, "")


class _Collector:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.lock = threading.Lock()
        self.last_arrival = time.monotonic()
        self.posts = 0

    def add(self, spans: list[Span]) -> None:
        with self.lock:
            self.spans.extend(spans)
            self.posts += 1
            self.last_arrival = time.monotonic()

    def snapshot(self) -> list[Span]:
        with self.lock:
            return list(self.spans)

    def wait_quiet(self, quiet_s: float, timeout: float) -> list[Span]:
        """The spans once none arrived for `quiet_s` (Envoy flushes its span buffer every 5 s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.spans and time.monotonic() - self.last_arrival >= quiet_s:
                    return list(self.spans)
            time.sleep(0.1)
        return self.snapshot()


class ZipkinCollector(_Collector):
    """Accepts POST /api/v2/spans (a JSON list of Zipkin v2 spans)."""

    def __init__(self, host: str, port: int = 9411) -> None:
        super().__init__()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("transfer-encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("content-length") or 0))
                out = b""
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    out += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()  # the blank line after the last chunk
                return out

            def do_POST(self) -> None:
                body = self._body()
                ok = self.path == "/api/v2/spans"
                if ok:
                    collector.add([_zipkin_span(s) for s in json.loads(body)])
                self.send_response(202 if ok else 404)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _zipkin_span(s: dict[str, Any]) -> Span:
    return Span(s["traceId"], s["id"], s.get("parentId", ""), s.get("kind", ""),
                (s.get("localEndpoint") or {}).get("serviceName", ""), tuple(sorted((s.get("tags") or {}).items())))


def _span_groups(resource_spans: Any) -> Any:
    """ResourceSpans' field 2: `scope_spans` in opentelemetry-proto, `instrumentation_library_spans` in the
    older copy of the same files that xds-protos ships. Both packages write opentelemetry/proto/..., so which
    one is importable depends on pip's install order; the wire format is the same."""
    groups = getattr(resource_spans, "scope_spans", None)
    return groups if groups is not None else resource_spans.instrumentation_library_spans


class OtlpCollector(_Collector):
    """An OTLP/gRPC TraceService (opentelemetry.proto.collector.trace.v1)."""

    def __init__(self, host: str, port: int = 4317) -> None:
        super().__init__()
        collector = self

        class Service(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                collector.add([_otlp_span(rs, span) for rs in request.resource_spans
                               for ss in _span_groups(rs) for span in ss.spans])
                return trace_service_pb2.ExportTraceServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)
        self.server.add_insecure_port(f"{host}:{port}")
        self.server.start()

    def close(self) -> None:
        self.server.stop(grace=None)


_OTLP_KINDS = {trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT", trace_pb2.Span.SPAN_KIND_SERVER: "SERVER"}


def _otlp_span(resource_spans: Any, span: Any) -> Span:
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    tags = tuple(sorted((a.key, a.value.string_value) for a in span.attributes))
    return Span(span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(),
                _OTLP_KINDS.get(span.kind, str(span.kind)), resource.get("service.name", ""), tags)
