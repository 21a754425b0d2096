"""Which Telemetry resources apply to a proxy, merged into plain data: its tracing and access logging.

Istio's inheritance (https://istio.io/latest/docs/tasks/observability/telemetry/, istio/istio
pilot/pkg/model/telemetry.go): the root namespace's selector-less Telemetry, then the proxy namespace's
selector-less one, then the proxy namespace's Telemetries whose `selector.matchLabels` select the
workload. Where several could be "the" namespace-wide one, the oldest wins. Later levels override:
- tracing: each field set at a level replaces the inherited one (customTags as a whole); the first named
  provider is used; no provider (none named, or not in the mesh config) means no tracing.
- access logging: a level that names providers replaces the set of providers in force; a provider is
  logged with the filter of the last entry naming it, or dropped where an entry says `disabled`.
`match.mode` picks CLIENT (outbound, gateways) or SERVER (inbound) listeners. `mesh.defaultProviders`
apply where no Telemetry says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pilot.model.providers import ExtensionProvider, TelemetryProviders
from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.model.scope_index import memoised
from pilot.model.snapshot import MeshSnapshot

CLIENT, SERVER = "CLIENT", "SERVER"
DEFAULT_SAMPLING = 1.0  # Istio's PILOT_TRACE_SAMPLING default, in percent


@dataclass(frozen=True)
class CustomTag:
    name: str
    kind: str  # literal | header | environment | formatter
    value: str  # the literal or formatter value, or the header / environment variable name
    default: str = ""


@dataclass(frozen=True)
class TracingSpec:
    provider: ExtensionProvider | None = None
    disabled: bool = False
    sampling: float | None = None  # randomSamplingPercentage; None: the default
    custom_tags: tuple[CustomTag, ...] = ()
    use_request_id_for_sampling: bool = True
    istio_tags: bool = True
    no_context_propagation: bool = False

    @property
    def active(self) -> bool:
        return self.provider is not None and not self.disabled


@dataclass(frozen=True)
class TracingConfig:
    client: TracingSpec
    server: TracingSpec

    def for_mode(self, mode: str) -> TracingSpec:
        return self.server if mode == SERVER else self.client


@dataclass(frozen=True)
class AccessLogSpec:
    provider: ExtensionProvider
    filter: str = ""  # a CEL expression; "" logs everything


def applicable(snapshot: MeshSnapshot, view: ProxyView) -> tuple[Resource, ...]:
    """The Telemetries in force for `view`, least specific first."""
    return memoised(snapshot, ("telemetry", view.namespace, view.labels), lambda: _applicable(snapshot, view))


def _applicable(snapshot: MeshSnapshot, view: ProxyView) -> tuple[Resource, ...]:
    root = snapshot.mesh.root_namespace
    by_ns: dict[str, list[Resource]] = {}
    for t in snapshot.of_kind("Telemetry"):  # oldest first (snapshot precedence order)
        by_ns.setdefault(t.namespace, []).append(t)
    out = [t for t in [_namespace_wide(by_ns.get(root, []))] if t]
    if view.namespace != root:
        out += [t for t in [_namespace_wide(by_ns.get(view.namespace, []))] if t]
    out += [t for t in by_ns.get(view.namespace, []) if _selector(t) and view.matches(_selector(t))]
    return tuple(out)


def _selector(t: Resource) -> dict[str, str]:
    sel = t.spec.get("selector") or {}
    return dict(sel.get("matchLabels") or {}) if isinstance(sel, Mapping) else {}


def _namespace_wide(candidates: list[Resource]) -> Resource | None:
    return next((t for t in candidates if not _selector(t) and not t.spec.get("targetRef")
                 and not t.spec.get("targetRefs")), None)


def _entries(telemetries: Iterable[Resource], section: str) -> list[Mapping[str, Any]]:
    return [e for t in telemetries for e in (t.spec.get(section) or []) if isinstance(e, Mapping)]


def _provider_names(entry: Mapping[str, Any]) -> list[str]:
    return [str(p.get("name")) for p in entry.get("providers") or [] if isinstance(p, Mapping) and p.get("name")]


def _mode_of(entry: Mapping[str, Any]) -> str:
    return str((entry.get("match") or {}).get("mode") or "CLIENT_AND_SERVER")


def tracing_for(snapshot: MeshSnapshot, view: ProxyView) -> TracingConfig | None:
    """None when neither a Telemetry nor `defaultProviders.tracing` says anything about tracing."""
    providers = snapshot.mesh.telemetry
    entries = _entries(applicable(snapshot, view), "tracing")
    if not entries and not providers.default_tracing:
        return None
    base = TracingSpec(provider=providers.find(providers.default_tracing[0]) if providers.default_tracing else None)
    client, server = base, base
    for entry in entries:
        mode = _mode_of(entry)
        if mode in ("CLIENT_AND_SERVER", CLIENT):
            client = _merge_tracing(client, entry, providers)
        if mode in ("CLIENT_AND_SERVER", SERVER):
            server = _merge_tracing(server, entry, providers)
    return TracingConfig(client, server)


def _merge_tracing(spec: TracingSpec, entry: Mapping[str, Any], providers: TelemetryProviders) -> TracingSpec:
    names = _provider_names(entry)
    if names:
        # Only one provider per mode: the first named (a name the mesh config lacks means none).
        spec = replace(spec, provider=providers.find(names[0]))
    flags = {"disableSpanReporting": "disabled", "useRequestIdForTraceSampling": "use_request_id_for_sampling",
             "enableIstioTags": "istio_tags", "disableContextPropagation": "no_context_propagation"}
    for key, attr in flags.items():
        if isinstance(entry.get(key), bool):
            spec = replace(spec, **{attr: entry[key]})
    if entry.get("randomSamplingPercentage") is not None:
        spec = replace(spec, sampling=float(entry["randomSamplingPercentage"]))
    if entry.get("customTags") is not None:
        spec = replace(spec, custom_tags=tuple(_custom_tags(entry["customTags"])))
    return spec


def _custom_tags(tags: Mapping[str, Any]) -> Iterable[CustomTag]:
    value_field = {"literal": "value", "formatter": "value", "header": "name", "environment": "name"}
    for name, tag in sorted(tags.items()):
        for kind, field in value_field.items():
            body = tag.get(kind) if isinstance(tag, Mapping) else None
            if isinstance(body, Mapping):
                yield CustomTag(str(name), kind, str(body.get(field, "")), str(body.get("defaultValue") or ""))
                break


def access_logs_for(snapshot: MeshSnapshot, view: ProxyView, mode: str) -> tuple[AccessLogSpec, ...] | None:
    """The access logs of `view`'s listeners of `mode` (CLIENT or SERVER), by provider name. None when
    neither a Telemetry nor `defaultProviders.accessLogging` configures access logging."""
    providers = snapshot.mesh.telemetry
    defaults = list(providers.default_access_logging)
    sections = [t.spec.get("accessLogging") for t in applicable(snapshot, view)]
    levels = [[e for e in s if isinstance(e, Mapping)] for s in sections if isinstance(s, list) and s]
    if not levels and not defaults:
        return None
    chosen: dict[str, str | None] = {}  # provider name -> filter, or None where disabled
    if not levels:
        chosen = dict.fromkeys(defaults, "")
    else:
        in_scope, filters = _scope_and_filters(levels, defaults, mode)
        inherited = defaults
        for level in levels:
            for entry in level:
                names = _provider_names(entry) or inherited
                inherited = names
                if not _mode_matches(entry, mode):
                    continue
                for name in names:
                    if name in in_scope:
                        chosen[name] = None if entry.get("disabled") is True else filters.get(name, "")
    out = []
    for name in sorted(chosen):
        found = providers.find(name)
        log_filter = chosen[name]
        if log_filter is not None and found is not None and found.kind == "envoyFileAccessLog":
            out.append(AccessLogSpec(found, log_filter))
    return tuple(out)


def _scope_and_filters(levels: list[list[Mapping[str, Any]]], defaults: list[str],
                       mode: str) -> tuple[set[str], dict[str, str]]:
    """The providers the most specific level naming any keeps in force, and each one's filter."""
    in_scope, filters = set(defaults), {}
    for level in levels:
        named: set[str] = set()
        for entry in level:
            if not _mode_matches(entry, mode):
                continue
            for name in _provider_names(entry):
                named.add(name)
                filters[name] = str((entry.get("filter") or {}).get("expression") or "")
        if named:
            in_scope = named
    return in_scope, filters


def _mode_matches(entry: Mapping[str, Any], mode: str) -> bool:
    return _mode_of(entry) in ("CLIENT_AND_SERVER", mode)


def service_cluster(view: ProxyView) -> str:
    """The name a proxy's spans carry: Istio's service cluster `<app>.<namespace>` (pkg/bootstrap
    serviceClusterOrDefault: the `app` label, else the workload name)."""
    labels = view.label_map
    app = labels.get("app") or labels.get("app.kubernetes.io/name") or view.name
    return f"{app}.{view.namespace}"


def canonical_service(view: ProxyView) -> tuple[str, str]:
    """(canonical service, canonical revision) as Istio's injector labels a pod
    (service.istio.io/canonical-name|revision, else app(.kubernetes.io/name|version), else the
    workload name and "latest")."""
    labels = view.label_map
    name = (labels.get("service.istio.io/canonical-name") or labels.get("app.kubernetes.io/name")
            or labels.get("app") or view.name)
    revision = (labels.get("service.istio.io/canonical-revision") or labels.get("app.kubernetes.io/version")
                or labels.get("version") or "latest")
    return name, revision
