"""Check generated xDS resources with a real Envoy without running a control plane: many proxies'
listeners, clusters, routes and secrets go into one static bootstrap and `envoy --mode validate` reads it
(https://www.envoyproxy.io/docs/envoy/latest/operations/cli#cmdoption-mode).

Each proxy's resources are made static the way Envoy would assemble them: an RDS route table is inlined
into its listener (with `validate_clusters: false`, RDS's default, so a route to a cluster the proxy
does not have is not a rejection Envoy would make over xDS), an EDS cluster gets its assignment as
`load_assignment`. Certificate files (DestinationRule `caCertificates: /etc/...`) exist only on the
proxy, so they become inline throw-away material. An SDS reference names a static secret instead (the
proxy's own SECRET resource, else a throw-away certificate or CA): Envoy 1.40 crashes validating SDS
over ADS. Names get a per-proxy prefix and listeners a unique port, so proxies do not collide in one
bootstrap; a rejected batch is split until the culprit is alone.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format, symbol_database
from google.protobuf.any_pb2 import Any as AnyPb
from google.protobuf.message import Message

from pilot.testing.envoy import envoy_binary
from pilot.testing.tls import SelfSigned, self_signed
from pilot.xds.types import CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET

Resources = Mapping[str, Mapping[str, AnyPb]]
_ADS_CLUSTER = "xds-grpc"
_FIRST_PORT = 20000


@dataclass(frozen=True)
class Rejection:
    index: int  # position in the list given to `validate_all`
    message: str


def to_dict(packed: AnyPb) -> dict[str, Any]:
    cls = symbol_database.Default().GetSymbol(packed.type_url.rsplit("/", 1)[-1])
    msg: Message = cls()
    packed.Unpack(msg)
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def _replace_strings(value: Any, names: Mapping[str, str]) -> Any:
    """Every string equal to an old cluster name becomes the new one (route targets, tcp_proxy, jwks
    and collector clusters all name clusters by plain string fields)."""
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [_replace_strings(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _replace_strings(v, names) for k, v in value.items()}
    return value


def _inline_rds(value: Any, routes: Mapping[str, dict[str, Any]]) -> Any:
    if isinstance(value, list):
        return [_inline_rds(v, routes) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _inline_rds(v, routes) for k, v in value.items()}
    rds = out.pop("rds", None)
    if isinstance(rds, dict) and "route_config_name" in rds:
        name = rds["route_config_name"]
        out["route_config"] = {**routes.get(name, {"name": name}), "validate_clusters": False}
    elif rds is not None:
        out["rds"] = rds
    return out


_SDS_KINDS = {"tls_certificate_sds_secret_configs": "tls", "validation_context_sds_secret_config": "ca"}


def _static_sds(value: Any, prefix: str, wanted: dict[str, str]) -> Any:
    """SDS references become references to static secrets named `<prefix><name>`; `wanted` collects the
    names with what each must hold ("tls" certificate or "ca" validation context)."""
    if isinstance(value, list):
        return [_static_sds(v, prefix, wanted) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _FILE_SOURCES and isinstance(item, dict) and "filename" in item:
            # Certificate files live in the proxy's file system, not here: Envoy would fail to open them.
            out[key] = _inline_material(_FILE_SOURCES[key])
        elif key in _SDS_KINDS:
            refs = item if isinstance(item, list) else [item]
            for ref in refs:
                wanted.setdefault(ref.get("name", ""), _SDS_KINDS[key])
            renamed = [{"name": f"{prefix}{ref.get('name', '')}"} for ref in refs]
            out[key] = renamed if isinstance(item, list) else renamed[0]
        else:
            out[key] = _static_sds(item, prefix, wanted)
    return out


_MATERIAL: list[SelfSigned] = []
_FILE_SOURCES = {"certificate_chain": "cert", "trusted_ca": "cert", "private_key": "key"}


def _inline_material(what: str) -> dict[str, str]:
    if not _MATERIAL:
        _MATERIAL.append(self_signed("envoy-static-validate"))
    pem = _MATERIAL[0].cert_pem if what == "cert" else _MATERIAL[0].key_pem
    return {"inline_bytes": base64.b64encode(pem).decode()}


def _placeholder(name: str, holds: str) -> dict[str, Any]:
    cert = _inline_material("cert")
    if holds == "ca":
        return {"name": name, "validation_context": {"trusted_ca": cert}}
    return {"name": name, "tls_certificate": {"certificate_chain": cert, "private_key": _inline_material("key")}}


class _Ports:
    def __init__(self) -> None:
        self.next = _FIRST_PORT

    def take(self) -> int:
        self.next += 1
        return self.next


def _readdress(listener: dict[str, Any], ports: _Ports) -> None:
    for holder in [listener, *(a for a in listener.get("additional_addresses", []) if isinstance(a, dict))]:
        sock = holder.get("address", {}).get("socket_address")
        if isinstance(sock, dict):
            sock["port_value"] = ports.take()


def static_parts(prefix: str, res: Resources, ports: _Ports) -> dict[str, list[dict[str, Any]]]:
    """One proxy's resources as static bootstrap lists, names prefixed with `prefix`."""
    assignments = {n: to_dict(a) for n, a in res.get(ENDPOINT, {}).items()}
    routes = {n: to_dict(a) for n, a in res.get(ROUTE, {}).items()}
    clusters = [to_dict(a) for a in res.get(CLUSTER, {}).values()]
    names = {c["name"]: f"{prefix}{c['name']}" for c in clusters}
    for c in clusters:
        if c.get("type") == "EDS" or "eds_cluster_config" in c:
            eds = c.pop("eds_cluster_config", {})
            cla = assignments.get(eds.get("service_name") or c["name"], {"cluster_name": c["name"]})
            c["type"], c["load_assignment"] = "STATIC", cla
    listeners = []
    for packed in res.get(LISTENER, {}).values():
        lis = _inline_rds(to_dict(packed), routes)
        lis["name"] = f"{prefix}{lis.get('name', '')}"
        _readdress(lis, ports)
        listeners.append(lis)
    wanted: dict[str, str] = {}
    clusters, listeners = _static_sds(clusters, prefix, wanted), _static_sds(listeners, prefix, wanted)
    given = {n: to_dict(a) for n, a in res.get(SECRET, {}).items()}
    secrets = [{**given[n], "name": f"{prefix}{n}"} if n in given else _placeholder(f"{prefix}{n}", holds)
               for n, holds in sorted(wanted.items())]
    secrets += [{**s, "name": f"{prefix}{n}"} for n, s in sorted(given.items()) if n not in wanted]
    return {"clusters": _replace_strings(clusters, names), "listeners": _replace_strings(listeners, names),
            "secrets": secrets}


def bootstrap(items: Sequence[Resources]) -> dict[str, Any]:
    ports = _Ports()
    static: dict[str, list[dict[str, Any]]] = {"clusters": [_ads_cluster()], "listeners": [], "secrets": []}
    for i, res in enumerate(items):
        for key, values in static_parts(f"p{i}~", res, ports).items():
            static[key].extend(values)
    return {
        "node": {"id": "sidecar~127.0.0.1~fuzz.default~default.svc.cluster.local", "cluster": "fuzz"},
        "static_resources": static,
        "dynamic_resources": {"ads_config": {"api_type": "GRPC", "transport_api_version": "V3",
                                             "grpc_services": [{"envoy_grpc": {"cluster_name": _ADS_CLUSTER}}]}},
    }


def _ads_cluster() -> dict[str, Any]:
    return {"name": _ADS_CLUSTER, "type": "STATIC", "connect_timeout": "1s",
            "typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}}}},
            "load_assignment": {"cluster_name": _ADS_CLUSTER, "endpoints": [{"lb_endpoints": [{"endpoint": {
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 15010}}}}]}]}}


def envoy_validate(config: Mapping[str, Any], workdir: Path | None = None) -> str | None:
    """None when Envoy accepts the bootstrap, else the tail of what it said."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "bootstrap.json"
        path.write_text(json.dumps(config))
        r = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(path), "--use-dynamic-base-id",
                            "--concurrency", "1", "--log-level", "error"],
                           capture_output=True, text=True, timeout=120)
    out = (r.stdout + r.stderr).strip()
    return None if r.returncode == 0 else out[-2000:]


def validate_all(items: Sequence[Resources], batch: int = 40,
                 validate: Callable[[Mapping[str, Any]], str | None] = envoy_validate) -> list[Rejection]:
    """Every item Envoy rejects, found by validating batches and splitting a rejected one in halves."""
    rejected: list[Rejection] = []

    def check(indices: list[int]) -> None:
        try:
            config = bootstrap([items[i] for i in indices])
        except (ValueError, TypeError) as unwritable:  # e.g. a Duration beyond protobuf's range
            problem: str | None = f"cannot be written as Envoy JSON: {unwritable}"
        else:
            problem = validate(config)
        if problem is None:
            return
        if len(indices) == 1:
            rejected.append(Rejection(indices[0], problem))
            return
        half = len(indices) // 2
        check(indices[:half])
        check(indices[half:])

    for start in range(0, len(items), batch):
        check(list(range(start, min(start + batch, len(items)))))
    return rejected
