"""Summary tables of a proxy's config dump, with the columns `istioctl proxy-config` prints.

istioctl reads a live Envoy's admin config dump; we read what the control plane generated for the proxy
(the same resources Envoy was sent), so runtime-only facts (outlier ejections, warming state) are not known
here. https://istio.io/latest/docs/reference/commands/istioctl/#istioctl-proxy-config
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from pilot.proxyconfig.dump import ConfigDump, istio_config_ref, resources_of
from pilot.proxyconfig.listener_rows import listener_rows, route_rows

Names = Callable[[str], str]  # a host -> "NAME.NAMESPACE" of the resource that configures it, or ""


@dataclass(frozen=True)
class Row:
    resource: str  # the name of the resource this row summarises
    cells: tuple[str, ...]
    keys: Mapping[str, str] = field(default_factory=dict)  # the values filters compare against


@dataclass(frozen=True)
class Summary:
    columns: tuple[str, ...]
    rows: list[Row]


@dataclass(frozen=True)
class Filters:
    fqdn: str = ""
    port: int | None = None
    subset: str = ""
    direction: str = ""
    name: str = ""
    address: str = ""
    cluster: str = ""
    status: str = ""

    def given(self) -> set[str]:
        return {k for k, v in vars(self).items() if v not in ("", None)}


COLUMNS = {
    "cluster": ("SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"),
    "listener": ("ADDRESSES", "PORT", "MATCH", "DESTINATION"),
    "route": ("NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"),
    "endpoint": ("ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"),
    "secret": ("RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"),
}
FILTERS = {
    "cluster": ("fqdn", "port", "subset", "direction", "name"),
    "listener": ("address", "port", "name"),
    "route": ("name",),
    "endpoint": ("address", "port", "cluster", "status", "name"),
    "secret": ("name",),
}


class FilterError(ValueError):
    """A filter that the kind has no column for."""


def summarize(dump: ConfigDump, kind: str, filters: Filters = Filters(),
              destination_rules: Names = lambda host: "", virtual_services: Names = lambda host: "") -> Summary:
    unknown = filters.given() - set(FILTERS[kind])
    if unknown:
        flags = ", ".join("--" + f for f in sorted(unknown))
        raise FilterError(f"{flags} does not apply to {kind} (filters: "
                          f"{', '.join('--' + f for f in FILTERS[kind])})")
    rows: list[Row] = []
    for res in resources_of(dump, kind):
        if kind == "cluster":
            rows.append(cluster_row(res, destination_rules))
        elif kind == "listener":
            rows += [Row(str(res.get("name", "")), cells, keys) for cells, keys in listener_rows(res)]
        elif kind == "route":
            rows += [Row(str(res.get("name", "")), cells) for cells in route_rows(res, virtual_services)]
        elif kind == "endpoint":
            rows += endpoint_rows(res)
        else:
            rows.append(secret_row(res))
    kept = [r for r in rows if _keep(r, filters)]
    if kind in ("cluster", "endpoint"):
        kept.sort(key=_istioctl_order)
    return Summary(COLUMNS[kind], kept)


def _istioctl_order(row: Row) -> tuple[str, int, str, str]:
    """istioctl sorts clusters by FQDN, port, subset, direction and endpoints by address, port."""
    k = row.keys
    port = int(k["port"]) if k.get("port", "").isdigit() else -1
    if "fqdn" in k:
        return (k["fqdn"], port, k.get("subset", ""), k.get("direction", ""))
    return (k.get("address", ""), port, k.get("cluster", ""), "")


def filtered_resources(dump: ConfigDump, kind: str, summary: Summary) -> list[dict[str, Any]]:
    """The full resources behind the rows a filtered summary kept (what `-o json|yaml` prints)."""
    by_name = {_name(r): r for r in resources_of(dump, kind)}
    return [by_name[n] for n in dict.fromkeys(r.resource for r in summary.rows) if n in by_name]


def _name(res: Mapping[str, Any]) -> str:
    return str(res.get("name") or res.get("clusterName") or "")


def _keep(row: Row, f: Filters) -> bool:
    k = row.keys
    fqdn = k.get("fqdn", "")
    return ((not f.fqdn or fqdn == f.fqdn or fqdn.startswith(f.fqdn + "."))
            and (f.port is None or k.get("port") == str(f.port))
            and (not f.subset or k.get("subset") == f.subset)
            and (not f.direction or k.get("direction", "").lower() == f.direction.lower())
            and (not f.address or k.get("address") == f.address)
            and (not f.cluster or k.get("cluster") == f.cluster)
            and (not f.status or k.get("status", "").upper() == f.status.upper())
            and (not f.name or row.resource == f.name))


# ---- clusters: istio names them DIRECTION|PORT|SUBSET|FQDN ---------------------------------------------
def cluster_row(c: Mapping[str, Any], destination_rules: Names) -> Row:
    name = str(c.get("name", ""))
    parts = name.split("|")
    if len(parts) == 4 and parts[0] in ("inbound", "outbound"):
        direction, port, subset, fqdn = parts
    else:
        direction, port, subset, fqdn = "", "", "", name
    ctype = str((c.get("clusterType") or {}).get("name") or c.get("type") or "STATIC")  # STATIC is proto's 0
    dr = istio_config_ref(c) or (destination_rules(fqdn) if direction == "outbound" else "")
    cells = (fqdn, port or "-", subset or "-", direction or "-", ctype, dr)
    return Row(name, cells, {"fqdn": fqdn, "port": port, "subset": subset, "direction": direction})


# ---- endpoints -----------------------------------------------------------------------------------------
def endpoint_rows(cla: Mapping[str, Any]) -> list[Row]:
    cluster = str(cla.get("clusterName", ""))
    rows = []
    for locality in cla.get("endpoints") or []:
        for lb in locality.get("lbEndpoints") or []:
            sa = ((lb.get("endpoint") or {}).get("address") or {}).get("socketAddress") or {}
            pipe = ((lb.get("endpoint") or {}).get("address") or {}).get("pipe") or {}
            address, port = str(sa.get("address") or pipe.get("path", "")), str(sa.get("portValue", ""))
            # Envoy treats UNKNOWN (the proto default) as healthy.
            status = str(lb.get("healthStatus") or "HEALTHY").replace("UNKNOWN", "HEALTHY")
            endpoint = f"{address}:{port}" if port else address
            # Outlier ejection is Envoy runtime state, not part of the generated config.
            rows.append(Row(cluster, (endpoint, status, "-", cluster),
                            {"address": address, "port": port, "cluster": cluster, "status": status}))
    return rows


# ---- secrets -------------------------------------------------------------------------------------------
def secret_row(s: Mapping[str, Any]) -> Row:
    name = str(s.get("name", ""))
    if "tlsCertificate" in s:
        kind, source = "Cert Chain", (s["tlsCertificate"].get("certificateChain") or {})
    else:
        kind, source = "CA", ((s.get("validationContext") or {}).get("trustedCa") or {})
    cert = _first_certificate(source)
    if cert is None:
        return Row(name, (name, kind, "ACTIVE", "false", "-", "-", "-"))
    now = datetime.datetime.now(datetime.UTC)
    valid = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    return Row(name, (name, kind, "ACTIVE", str(valid).lower(), format(cert.serial_number, "x"),
                      _iso(cert.not_valid_after_utc), _iso(cert.not_valid_before_utc)))


def _first_certificate(source: Mapping[str, Any]) -> x509.Certificate | None:
    try:
        if "inlineBytes" in source:
            pem = base64.b64decode(source["inlineBytes"])
        elif "inlineString" in source:
            pem = str(source["inlineString"]).encode()
        else:
            return None
        return x509.load_pem_x509_certificates(pem)[0]
    except (ValueError, IndexError):
        return None


def _iso(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
