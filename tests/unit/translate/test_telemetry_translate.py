"""Telemetry -> HCM tracing and access_log: providers, sampling, tags, collector clusters, findings;
and nothing at all changes without Telemetry."""

from __future__ import annotations

from typing import Any

import yaml
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.trace.v3 import opentelemetry_pb2, zipkin_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.request_id.uuid.v3 import uuid_pb2

from pilot.model.findings import Finding
from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.translate.envoyfilter.lists import unpack
from pilot.translate.generate import CLUSTER, ENDPOINT, Resources, generate_with_findings
from pilot.translate.telemetry import apply_telemetry
from tests.unit.translate.envoyfilter_kit import INBOUND, MESH, OUTBOUND, PP, manager

COLLECTORS = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: zipkin, namespace: istio-system}
spec:
  hosts: [zipkin.example]
  ports: [{number: 9411, name: http, protocol: HTTP}]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints: [{address: 127.40.3.1}]
  exportTo: ["."]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: otel, namespace: istio-system}
spec:
  hosts: [otel.example]
  ports: [{number: 4317, name: grpc, protocol: GRPC}]
  location: MESH_EXTERNAL
  resolution: DNS
"""
MESH_CONFIG = {"extensionProviders": [
    {"name": "zipkin", "zipkin": {"service": "istio-system/zipkin.example", "port": 9411, "maxTagLength": 99}},
    {"name": "otel", "opentelemetry": {"service": "otel.example", "port": 4317}},
    {"name": "ghost", "zipkin": {"service": "nowhere.example", "port": 9411}},
    {"name": "json", "envoyFileAccessLog": {"path": "/tmp/j.log", "logFormat": {"labels": {
        "code": "%RESPONSE_CODE%", "path": "%REQ_WITHOUT_QUERY(:PATH)%"}}}},
    {"name": "text", "envoyFileAccessLog": {"path": "/tmp/t.log", "logFormat": {"text": "%RESPONSE_CODE%"}}},
    {"name": "dd", "datadog": {"service": "dd", "port": 1}},
]}


def telemetry(spec: dict[str, Any], name: str = "mesh", namespace: str = "istio-system") -> str:
    return yaml.safe_dump({"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry",
                           "metadata": {"name": name, "namespace": namespace}, "spec": spec})


def run(*docs: str, mesh: dict[str, Any] | None = None, pod: Any = PP,
        base: str = "") -> tuple[Resources, list[Finding]]:
    res = resources_from_yaml((base or MESH.yaml()) + "---\n" + COLLECTORS)
    for d in docs:
        res += resources_from_yaml(d, "telemetry.yaml")
    snap = build_snapshot(res, MeshConfig.from_dict(MESH_CONFIG if mesh is None else mesh))
    return generate_with_findings(snap, snap.proxy_view(NodeId.parse(pod.node_id)))


def test_no_telemetry_leaves_every_resource_as_it_was() -> None:
    snap = build_snapshot(resources_from_yaml(MESH.yaml() + "---\n" + COLLECTORS), MeshConfig.from_dict(MESH_CONFIG))
    view = snap.proxy_view(NodeId.parse(PP.node_id))
    base = {"t": {}}
    assert apply_telemetry(snap, view, base) == (base, []) and apply_telemetry(snap, view, base)[0] is base
    without = generate_with_findings(build_snapshot(resources_from_yaml(MESH.yaml() + "---\n" + COLLECTORS)), view)
    assert run()[0] == without[0]


def test_zipkin_tracing_on_both_sides_with_sampling_tags_and_collector_cluster() -> None:
    out, findings = run(telemetry({"tracing": [{"providers": [{"name": "zipkin"}], "randomSamplingPercentage": 30,
                                                "customTags": {"env": {"environment": {"name": "POD"}}}}]}))
    assert not findings
    for name in (INBOUND, OUTBOUND):
        t = manager(out, name).tracing
        assert t.provider.name == "envoy.tracers.zipkin"
        cfg = unpack(t.provider.typed_config)
        assert isinstance(cfg, zipkin_pb2.ZipkinConfig)
        assert cfg.collector_service.http_uri.uri == "http://zipkin.example/api/v2/spans"
        assert cfg.collector_service.http_uri.cluster == "outbound|9411||zipkin.example"
        assert cfg.trace_id_128bit and cfg.shared_span_context.value is False
        assert cfg.collector_endpoint_version == zipkin_pb2.ZipkinConfig.HTTP_JSON
        assert (t.random_sampling.value, t.client_sampling.value, t.overall_sampling.value) == (30, 100, 100)
        assert t.max_path_tag_length.value == 99 and not t.spawn_upstream_span.value
        tags = {tag.tag: tag for tag in t.custom_tags}
        assert tags["env"].environment.name == "POD"
        assert tags["istio.canonical_service"].literal.value == "productpage"
        assert [tag.tag for tag in t.custom_tags] == sorted(tags)
        rid = unpack(manager(out, name).request_id_extension.typed_config)
        assert isinstance(rid, uuid_pb2.UuidRequestIdConfig) and rid.use_request_id_for_trace_sampling.value
    # exportTo "." keeps the collector out of productpage's scope: the cluster is added for tracing.
    assert "outbound|9411||zipkin.example" in out[CLUSTER] and "outbound|9411||zipkin.example" in out[ENDPOINT]


def test_opentelemetry_uses_grpc_to_an_http2_cluster_and_the_service_name() -> None:
    out, _ = run(telemetry({"tracing": [{"providers": [{"name": "otel"}], "enableIstioTags": False}]}))
    t = manager(out, OUTBOUND).tracing
    cfg = unpack(t.provider.typed_config)
    assert isinstance(cfg, opentelemetry_pb2.OpenTelemetryConfig) and t.provider.name == "envoy.tracers.opentelemetry"
    assert cfg.service_name == "productpage.default"
    assert (cfg.grpc_service.envoy_grpc.cluster_name, cfg.grpc_service.envoy_grpc.authority) == (
        "outbound|4317||otel.example", "otel.example")
    assert t.random_sampling.value == 1.0 and not t.custom_tags  # Istio's default 1 %, no istio.* tags
    cluster = unpack(out[CLUSTER]["outbound|4317||otel.example"])
    assert isinstance(cluster, cluster_pb2.Cluster) and cluster.type == cluster_pb2.Cluster.STRICT_DNS
    from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2

    opts = http_protocol_options_pb2.HttpProtocolOptions()
    cluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].Unpack(opts)
    assert opts.explicit_http_config.HasField("http2_protocol_options")  # gRPC needs HTTP/2


def test_client_and_server_modes_and_disabled_reporting() -> None:
    out, _ = run(telemetry({"tracing": [{"providers": [{"name": "zipkin"}]},
                                        {"match": {"mode": "CLIENT"}, "disableSpanReporting": True}]}))
    assert manager(out, INBOUND).HasField("tracing") and not manager(out, OUTBOUND).HasField("tracing")


def test_gateways_spawn_an_upstream_span() -> None:
    from pilot.testing.mesh import PodSpec

    gw = PodSpec("istio-ingressgateway", "v1", 200, (127, 40, 0), "istio-system", proxy_type="router",
                 extra_labels=(("istio", "ingressgateway"),))
    from pilot.model.proxy import ProxyView
    from pilot.model.telemetry import TracingSpec
    from pilot.translate.tracing import CollectorTarget, hcm_tracing

    provider = MeshConfig.from_dict(MESH_CONFIG).telemetry.find("zipkin")
    view = ProxyView("router", gw.ip, gw.name, gw.namespace, (("app", "istio-ingressgateway"),))
    t = hcm_tracing(TracingSpec(provider=provider), CollectorTarget("zipkin.example", "c"), view, "cluster.local")
    assert t.spawn_upstream_span.value


def test_missing_collector_and_unknown_or_unusable_providers_are_findings() -> None:
    out, findings = run(telemetry({"tracing": [{"providers": [{"name": "ghost"}]}],
                                   "accessLogging": [{"providers": [{"name": "nope"}, {"name": "dd"}]}]}))
    assert not manager(out, OUTBOUND).HasField("tracing")
    messages = sorted(f.line() for f in findings)
    assert any("nowhere.example port 9411 is not in the mesh registry" in m for m in messages)
    assert any("accessLogging[0].providers[0].name: warning: provider 'nope' is not defined" in m for m in messages)
    assert any("providers[1].name: warning: provider 'dd' is a datadog provider" in m for m in messages)


def test_access_logs_json_and_text_with_cel_filter_and_formatter() -> None:
    out, findings = run(telemetry({"accessLogging": [
        {"providers": [{"name": "text"}]},
        {"providers": [{"name": "json"}], "filter": {"expression": "response.code >= 400"}}]}))
    assert not findings
    logs = manager(out, INBOUND).access_log
    assert [entry.name for entry in logs] == ["envoy.access_loggers.file"] * 2  # sorted: json, text
    json_log, text_log = (unpack(entry.typed_config) for entry in logs)
    assert isinstance(json_log, file_pb2.FileAccessLog) and isinstance(text_log, file_pb2.FileAccessLog)
    assert json_log.path == "/tmp/j.log" and json_log.log_format.json_format.fields["code"].string_value == (
        "%RESPONSE_CODE%")
    assert [f.name for f in json_log.log_format.formatters] == ["envoy.formatter.req_without_query"]
    assert text_log.log_format.text_format_source.inline_string == "%RESPONSE_CODE%\n"  # newline added
    assert logs[0].filter.extension_filter.name == "envoy.access_loggers.extension_filters.cel"
    assert not logs[1].HasField("filter")
    assert len(manager(out, OUTBOUND).access_log) == 2


def test_tcp_proxies_get_access_logs_too() -> None:
    from tests.unit.translate.envoyfilter_kit import listener

    docs = MESH.documents()
    doc = next(d for d in docs if d["kind"] == "Sidecar" and d["metadata"]["name"] == PP.name)
    doc["spec"]["ingress"][0]["port"]["protocol"] = "TCP"
    out, _ = run(telemetry({"accessLogging": [{"providers": [{"name": "text"}]}]}), base=yaml.safe_dump_all(docs))
    f = listener(out, INBOUND).filter_chains[0].filters[0]
    proxy = unpack(f.typed_config)
    assert f.name == "envoy.filters.network.tcp_proxy" and len(proxy.access_log) == 1  # type: ignore[attr-defined]


def test_default_providers_need_no_telemetry() -> None:
    out, _ = run(mesh={**MESH_CONFIG, "defaultProviders": {"tracing": ["zipkin"], "accessLogging": ["text"]}})
    m = manager(out, OUTBOUND)
    assert m.tracing.provider.name == "envoy.tracers.zipkin" and len(m.access_log) == 1
    assert isinstance(m, hcm.HttpConnectionManager)
