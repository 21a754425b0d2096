"""Which Telemetry a proxy gets: root namespace < proxy namespace < workload, merged as Istio merges
(pilot/pkg/model/telemetry.go), and the mesh config's providers and defaults."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pilot.model.mesh import MeshConfig
from pilot.model.providers import MeshConfigError, TelemetryProviders
from pilot.model.proxy import NodeId, ProxyView
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.model.telemetry import CLIENT, SERVER, access_logs_for, applicable, service_cluster, tracing_for
from pilot.sources.memory import resources_from_yaml
from pilot.testing.mesh import LoopbackMesh

MESH = LoopbackMesh.build([("productpage", "v1"), ("reviews", "v1")], block=(127, 41, 0))
PROVIDERS = {"extensionProviders": [
    {"name": "zipkin", "zipkin": {"service": "zipkin.example", "port": 9411}},
    {"name": "otel", "opentelemetry": {"service": "otel.example", "port": 4317}},
    {"name": "a", "envoyFileAccessLog": {"path": "/tmp/a.log"}},
    {"name": "b", "envoyFileAccessLog": {"path": "/tmp/b.log", "logFormat": {"labels": {"c": "%RESPONSE_CODE%"}}}},
]}


def tel(name: str, namespace: str, spec: dict[str, Any], created: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if created:
        meta["creationTimestamp"] = created
    return {"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry", "metadata": meta, "spec": spec}


def snap(*docs: dict[str, Any], mesh: dict[str, Any] | None = None) -> MeshSnapshot:
    text = MESH.yaml() + "".join("---\n" + yaml.safe_dump(d) for d in docs)
    return build_snapshot(resources_from_yaml(text), MeshConfig.from_dict(mesh if mesh is not None else PROVIDERS))


def view(s: MeshSnapshot, service: str = "productpage") -> ProxyView:
    return s.proxy_view(NodeId.parse(MESH.pod(service).node_id))


def trace(entry: dict[str, Any]) -> dict[str, Any]:
    return {"tracing": [entry]}


def test_nothing_configured_means_no_opinion() -> None:
    s = snap(mesh={})
    assert tracing_for(s, view(s)) is None and access_logs_for(s, view(s), CLIENT) is None


def test_workload_overrides_namespace_overrides_root_field_by_field() -> None:
    s = snap(tel("mesh", "istio-system", trace({"providers": [{"name": "zipkin"}], "randomSamplingPercentage": 10,
                                               "customTags": {"t": {"literal": {"value": "root"}}}})),
             tel("ns", "default", trace({"randomSamplingPercentage": 20})),
             tel("pp", "default", {"selector": {"matchLabels": {"app": "productpage"}},
                                   **trace({"customTags": {"t": {"header": {"name": "x-t", "defaultValue": "d"}}}})}))
    pp = tracing_for(s, view(s))
    assert pp is not None and pp.client == pp.server
    assert pp.client.provider is not None and pp.client.provider.name == "zipkin"
    assert pp.client.sampling == 20  # namespace beats root
    assert [(t.kind, t.value, t.default) for t in pp.client.custom_tags] == [("header", "x-t", "d")]  # workload
    reviews = tracing_for(s, view(s, "reviews"))
    assert reviews is not None and [t.value for t in reviews.client.custom_tags] == ["root"]
    assert [t.name for t in applicable(s, view(s))] == ["mesh", "ns", "pp"]


def test_modes_split_client_and_server_and_unknown_provider_disables() -> None:
    s = snap(tel("mesh", "istio-system", {"tracing": [
        {"providers": [{"name": "zipkin"}]},
        {"match": {"mode": "SERVER"}, "providers": [{"name": "nope"}]},
        {"match": {"mode": "CLIENT"}, "disableSpanReporting": True, "randomSamplingPercentage": 50}]}))
    cfg = tracing_for(s, view(s))
    assert cfg is not None
    assert not cfg.client.active and cfg.client.sampling == 50
    assert cfg.server.provider is None and not cfg.server.active  # a name the mesh config lacks


def test_default_provider_applies_without_telemetry_and_first_named_provider_wins() -> None:
    mesh = {**PROVIDERS, "defaultProviders": {"tracing": ["otel"], "accessLogging": ["a"]}}
    s = snap(mesh=mesh)
    cfg = tracing_for(s, view(s))
    assert cfg is not None and cfg.client.active and cfg.client.provider.kind == "opentelemetry"  # type: ignore[union-attr]
    assert [spec.provider.name for spec in access_logs_for(s, view(s), SERVER) or ()] == ["a"]
    s = snap(tel("m", "istio-system", trace({"providers": [{"name": "ZIPKIN"}, {"name": "otel"}]})), mesh=mesh)
    cfg = tracing_for(s, view(s))
    assert cfg is not None and cfg.server.provider.name == "zipkin"  # type: ignore[union-attr]  # case-insensitive


def test_oldest_namespace_wide_telemetry_wins_and_selectors_stay_in_their_namespace() -> None:
    s = snap(tel("younger", "default", trace({"randomSamplingPercentage": 7}), created="2024-02-01T00:00:00Z"),
             tel("older", "default", trace({"randomSamplingPercentage": 3}), created="2024-01-01T00:00:00Z"),
             tel("root-selected", "istio-system", {"selector": {"matchLabels": {"app": "productpage"}},
                                                   **trace({"randomSamplingPercentage": 99})}),
             tel("root", "istio-system", trace({"providers": [{"name": "zipkin"}]})))
    cfg = tracing_for(s, view(s))
    assert cfg is not None and cfg.client.sampling == 3
    assert [t.name for t in applicable(s, view(s))] == ["root", "older"]


def logs(s: MeshSnapshot, mode: str = CLIENT, service: str = "productpage") -> list[tuple[str, str]]:
    return [(spec.provider.name, spec.filter) for spec in access_logs_for(s, view(s, service), mode) or ()]


def test_access_logging_levels_replace_providers_and_keep_the_last_filter() -> None:
    s = snap(tel("mesh", "istio-system", {"accessLogging": [{"providers": [{"name": "a"}, {"name": "b"}]}]}),
             tel("ns", "default", {"accessLogging": [
                 {"providers": [{"name": "b"}], "filter": {"expression": "response.code >= 500"}}]}))
    assert logs(s) == [("b", "response.code >= 500")]  # the namespace named only b
    s = snap(tel("mesh", "istio-system", {"accessLogging": [{"providers": [{"name": "a"}, {"name": "b"}]}]}),
             tel("ns", "default", {"accessLogging": [{"filter": {"expression": "response.code >= 400"}}]}))
    assert logs(s) == [("a", ""), ("b", "")]  # no providers named: the filter applies to no provider


def test_access_logging_disabled_and_mode() -> None:
    s = snap(tel("mesh", "istio-system", {"accessLogging": [{"providers": [{"name": "a"}]}]}),
             tel("r", "default", {"selector": {"matchLabels": {"app": "reviews"}},
                                  "accessLogging": [{"providers": [{"name": "a"}], "disabled": True,
                                                     "match": {"mode": "SERVER"}}]}))
    assert logs(s, SERVER, "reviews") == [] and logs(s, CLIENT, "reviews") == [("a", "")]
    assert logs(s, SERVER) == [("a", "")]


def test_access_logging_skips_providers_that_are_not_file_logs() -> None:
    s = snap(tel("mesh", "istio-system", {"accessLogging": [{"providers": [{"name": "zipkin"}, {"name": "envoy"}]}]}))
    assert logs(s) == [("envoy", "")]  # Istio's built-in `envoy` provider: stdout


def test_service_cluster_is_app_dot_namespace() -> None:
    s = snap()
    assert service_cluster(view(s)) == "productpage.default"


def test_mesh_config_parses_providers_and_defaults() -> None:
    p = TelemetryProviders.from_dict({**PROVIDERS, "defaultProviders": {"tracing": ["zipkin"]}})
    z = p.find("zipkin")
    assert z is not None and z.collector is not None and (z.collector.service, z.collector.port) == ("zipkin.example",
                                                                                                     9411)
    b = p.find("b")
    assert b is not None and b.file_log is not None and b.file_log.labels == (("c", "%RESPONSE_CODE%"),)
    assert p.default_tracing == ("zipkin",) and p.configured
    assert not TelemetryProviders.from_dict({}).configured


@pytest.mark.parametrize(("data", "message"), [
    ({"extensionProviders": {"x": 1}}, "extensionProviders: must be a list"),
    ({"extensionProviders": [{"zipkin": {}}]}, "extensionProviders[0].name: a provider needs a name"),
    ({"extensionProviders": [{"name": "z", "zipkin": {"service": "z", "port": 0}}]},
     "extensionProviders[0].zipkin.port"),
    ({"extensionProviders": [{"name": "z", "zipkin": {"port": 9411}}]}, "extensionProviders[0].zipkin.service"),
    ({"extensionProviders": [{"name": "z", "zipkin": {"service": "a", "port": 1}, "opentelemetry": {}}]},
     "exactly one provider kind"),
    ({"extensionProviders": [{"name": "z", "bogus": {}}]}, "unknown provider kind"),
    ({"extensionProviders": [{"name": "z", "opentelemetry": {"service": "a", "port": 1, "http": {}}}]},
     "OTLP over HTTP is not supported"),
    ({"extensionProviders": [{"name": "l", "envoyFileAccessLog": {"logFormat": {"text": "x", "labels": {}}}}]},
     "set one of text or labels"),
    ({"extensionProviders": [{"name": "a", "sds": {}}, {"name": "A", "sds": {}}]}, "duplicate provider name"),
    ({"defaultProviders": {"tracing": "zipkin"}}, "defaultProviders.tracing: must be a list"),
])
def test_mesh_config_errors_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(MeshConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        MeshConfig.from_dict(data)
