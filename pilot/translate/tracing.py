"""A resolved TracingSpec -> the HTTP connection manager's `tracing` block, as istiod builds it
(istio/istio pilot/pkg/networking/core/tracing.go):

- zipkin: `envoy.tracers.zipkin`, v2 JSON to `http://<host><path>` (default /api/v2/spans) through the
  collector service's outbound cluster, 128-bit trace ids, no shared span context (client and server
  spans of one hop are separate spans, the server's parent being the client's). Zipkin names the
  service after the proxy's node.cluster, which the bootstrap sets to `<app>.<namespace>`.
- opentelemetry: `envoy.tracers.opentelemetry`, OTLP over gRPC to the collector's cluster, service name
  `<app>.<namespace>` as Istio's node.cluster.
- sampling: client and overall 100 %, random = randomSamplingPercentage (default 1 %).
- tags: Istio's `istio.*` tags unless enableIstioTags is false, then customTags; sorted by name.
Envoy: https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto#extensions-filters-network-http-connection-manager-v3-httpconnectionmanager-tracing
"""

from __future__ import annotations

from dataclasses import dataclass

from envoy.config.core.v3 import grpc_service_pb2, http_service_pb2, http_uri_pb2
from envoy.config.trace.v3 import http_tracer_pb2, opentelemetry_pb2, zipkin_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.request_id.uuid.v3 import uuid_pb2
from envoy.type.tracing.v3 import custom_tag_pb2
from envoy.type.v3 import percent_pb2

from pilot.model.proxy import ProxyView
from pilot.model.telemetry import DEFAULT_SAMPLING, CustomTag, TracingSpec, canonical_service, service_cluster
from pilot.translate.pb import duration, pack

ZIPKIN = "envoy.tracers.zipkin"
OPENTELEMETRY = "envoy.tracers.opentelemetry"
UUID_REQUEST_ID = "envoy.request_id.uuid"
ZIPKIN_PATH = "/api/v2/spans"
COLLECTOR_TIMEOUT_S = 5.0  # Istio's default zipkin timeout


@dataclass(frozen=True)
class CollectorTarget:
    """Where a provider's spans go: the collector's hostname and the cluster that reaches it."""

    hostname: str
    cluster: str


def hcm_tracing(spec: TracingSpec, target: CollectorTarget, view: ProxyView,
                trust_domain: str) -> hcm.HttpConnectionManager.Tracing:
    assert spec.provider is not None and spec.provider.collector is not None
    collector = spec.provider.collector
    tracing = hcm.HttpConnectionManager.Tracing()
    if spec.provider.kind == "zipkin":
        cfg = zipkin_pb2.ZipkinConfig(
            collector_endpoint_version=zipkin_pb2.ZipkinConfig.HTTP_JSON, trace_id_128bit=True,
            collector_service=http_service_pb2.HttpService(http_uri=http_uri_pb2.HttpUri(
                uri=f"http://{target.hostname}{collector.path or ZIPKIN_PATH}", cluster=target.cluster,
                timeout=duration(COLLECTOR_TIMEOUT_S))))
        cfg.shared_span_context.value = False
        tracing.provider.CopyFrom(http_tracer_pb2.Tracing.Http(name=ZIPKIN, typed_config=pack(cfg)))
    else:
        otel = opentelemetry_pb2.OpenTelemetryConfig(service_name=service_cluster(view), grpc_service=(
            grpc_service_pb2.GrpcService(envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
                cluster_name=target.cluster, authority=target.hostname))))
        tracing.provider.CopyFrom(http_tracer_pb2.Tracing.Http(name=OPENTELEMETRY, typed_config=pack(otel)))
    if view.is_gateway:
        # Istio starts a child span for the upstream request at gateways (startChildSpan for routers).
        tracing.spawn_upstream_span.value = True
    if collector.max_tag_length:
        tracing.max_path_tag_length.value = collector.max_tag_length
    tracing.client_sampling.CopyFrom(percent_pb2.Percent(value=100.0))
    tracing.overall_sampling.CopyFrom(percent_pb2.Percent(value=100.0))
    sampling = DEFAULT_SAMPLING if spec.sampling is None else spec.sampling
    tracing.random_sampling.CopyFrom(percent_pb2.Percent(value=sampling))
    tags = (istio_tags(view, trust_domain) if spec.istio_tags else []) + [custom_tag(t) for t in spec.custom_tags]
    tracing.custom_tags.extend(sorted(tags, key=lambda t: t.tag))
    return tracing


def request_id_extension(spec: TracingSpec) -> hcm.RequestIDExtension:
    """Istio always configures the UUID request id: it carries the sampling decision to the next hop."""
    cfg = uuid_pb2.UuidRequestIdConfig()
    cfg.pack_trace_reason.value = True
    cfg.use_request_id_for_trace_sampling.value = spec.use_request_id_for_sampling
    ext = hcm.RequestIDExtension()
    ext.typed_config.CopyFrom(pack(cfg))
    return ext


def custom_tag(tag: CustomTag) -> custom_tag_pb2.CustomTag:
    out = custom_tag_pb2.CustomTag(tag=tag.name)
    if tag.kind == "literal":
        out.literal.value = tag.value
    elif tag.kind == "header":
        out.request_header.name, out.request_header.default_value = tag.value, tag.default
    elif tag.kind == "environment":
        out.environment.name, out.environment.default_value = tag.value, tag.default
    else:  # formatter: a substitution format string (Envoy's CustomTag.value)
        out.value = tag.value
    return out


def istio_tags(view: ProxyView, trust_domain: str) -> list[custom_tag_pb2.CustomTag]:
    """The literal tags Istio puts on every span: canonical service and revision, mesh, namespace, cluster."""
    service, revision = canonical_service(view)
    values = {"istio.canonical_revision": revision, "istio.canonical_service": service,
              "istio.mesh_id": trust_domain, "istio.namespace": view.namespace, "istio.cluster_id": "Kubernetes"}
    out = []
    for name, value in values.items():
        t = custom_tag_pb2.CustomTag(tag=name)
        t.literal.value = value
        out.append(t)
    return out
