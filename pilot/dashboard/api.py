"""The dashboard's HTTP handlers: the page, its script, and the JSON the script polls.

`/dashboard/api/graph` (mesh graph + live rates), `/dashboard/api/proxies` (sync status per proxy, the
data of `pilot proxy-status`), `/dashboard/api/proxy?id=NODE` (config summary of one proxy, the tables of
`pilot proxy-config`). The graph handler scrapes the sidecars at most once per `min_interval`, so the
control plane does no scraping while nobody looks.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pilot.dashboard.page import static_response
from pilot.dashboard.rates import RequestKey, Scrape, scrape_increases
from pilot.dashboard.scrape import scrape_all, targets_of
from pilot.dashboard.view import mesh_view
from pilot.httpserver import Handler, Response

if TYPE_CHECKING:
    from pilot.model.snapshot import MeshSnapshot
    from pilot.proxyconfig.dump import ConfigDump

KINDS = ("cluster", "listener", "route", "endpoint", "secret")
TYPES = ("cds", "lds", "eds", "rds", "sds")


@dataclass(frozen=True)
class DashboardOptions:
    metric: str = "envoy_cluster_upstream_rq"  # docs/telemetry-metrics.md; Istio's: istio_requests_total
    stats_port: int = 15090  # Istio's sidecar Prometheus port
    # Envoy's admin filters by the stat's own name (tags included): only clusters' per-code request
    # counters, of those used. A sidecar's whole page is ~3 MB; this is a few KB.
    # https://www.envoyproxy.io/docs/envoy/latest/operations/admin#get--stats-prometheus
    stats_path: str = "/stats/prometheus?usedonly&filter=" + quote(r"^cluster\..+\.upstream_rq_\d{3}$")
    window: float = 10.0  # a rate spans the scrapes of the last `window` seconds
    min_interval: float = 1.0  # never scrape more often than this, whoever polls
    timeout: float = 1.0  # per target

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> DashboardOptions:
        """MESHPILOT_DASHBOARD_METRIC, _STATS_PORT, _STATS_PATH and _WINDOW override the defaults."""
        d = cls()
        metric = env.get("MESHPILOT_DASHBOARD_METRIC", d.metric)
        return cls(metric=metric, stats_port=int(env.get("MESHPILOT_DASHBOARD_STATS_PORT", d.stats_port)),
                   # The default filter only fits the default metric.
                   stats_path=env.get("MESHPILOT_DASHBOARD_STATS_PATH",
                                      d.stats_path if metric == d.metric else "/stats/prometheus"),
                   window=float(env.get("MESHPILOT_DASHBOARD_WINDOW", d.window)))


@dataclass(frozen=True)
class DashboardSources:
    """What the dashboard reads from the control plane (callables, so it always sees the newest)."""

    snapshot: Callable[[], MeshSnapshot | None]
    sync_status: Callable[[], list[dict[str, Any]]]  # /debug/syncz rows
    config_dump: Callable[[str], ConfigDump | None]  # /debug/config_dump of one proxy


@dataclass
class Dashboard:
    sources: DashboardSources
    options: DashboardOptions = field(default_factory=DashboardOptions)
    clock: Callable[[], float] = time.monotonic
    history: deque[Scrape] = field(default_factory=deque)
    scrape_errors: dict[str, str] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def routes(self) -> dict[str, Handler]:
        return {"/dashboard": self.page, "/dashboard/": self.page,
                "/dashboard/app.js": lambda _q: static_response("app.js"),
                "/dashboard/app.css": lambda _q: static_response("app.css"),
                "/dashboard/api/graph": self.graph, "/dashboard/api/proxies": self.proxies,
                "/dashboard/api/proxy": self.proxy}

    def page(self, _q: dict[str, list[str]]) -> Response:
        return static_response("index.html")

    # ---- graph -------------------------------------------------------------------------------------
    async def graph(self, _q: dict[str, list[str]]) -> Response:
        snap = self.sources.snapshot()
        if snap is None:
            return Response.json({"error": "no mesh snapshot yet"}, 503)
        async with self._lock:
            if not self.history or self.clock() - self.history[-1].time >= self.options.min_interval:
                await self._scrape(snap.mesh.domain_suffix)
        traffic, seconds = self.traffic()
        view = mesh_view(snap.graph, traffic, seconds)
        view["scrape"] = {"targets": len(self.history[-1].counters) + len(self.scrape_errors) if self.history
                          else 0, "errors": dict(sorted(self.scrape_errors.items())),
                          "metric": self.options.metric, "port": self.options.stats_port}
        return Response.json(view)

    async def _scrape(self, domain_suffix: str) -> None:
        nodes = [row["proxy"] for row in self.sources.sync_status()]
        targets = targets_of(nodes, self.options.stats_port, self.options.stats_path)
        result = await scrape_all(targets, self.options.metric, domain_suffix, self.options.timeout, self.clock)
        self.scrape_errors = result.errors
        self.history.append(result.scrape)
        # Keep the newest scrape at least `window` old, so the rate spans about `window` seconds.
        while len(self.history) > 2 and self.history[1].time <= self.history[-1].time - self.options.window:
            self.history.popleft()

    def traffic(self) -> tuple[dict[RequestKey, float], float]:
        """Counter increases between the oldest and newest kept scrape, and the seconds between them;
        with one scrape, every series it holds at zero (the edges show before a rate can be known)."""
        if not self.history:
            return {}, 0.0
        first, last = self.history[0], self.history[-1]
        if first is last:
            return {k: 0.0 for counters in last.counters.values() for k in counters}, 0.0
        return scrape_increases(first, last), last.time - first.time

    # ---- proxies -----------------------------------------------------------------------------------
    def proxies(self, _q: dict[str, list[str]]) -> Response:
        rows = []
        for row in sorted(self.sources.sync_status(), key=lambda r: r["proxy"]):
            parts = row["proxy"].split("~")
            types = row.get("types") or {}
            rows.append({"id": row["proxy"], "name": parts[2] if len(parts) == 4 else row["proxy"],
                         "type": parts[0] if len(parts) == 4 else "", "ip": parts[1] if len(parts) == 4 else "",
                         "status": {t: (types.get(t) or {}).get("status", "IGNORED") for t in TYPES},
                         "errors": {t: types[t]["error"] for t in TYPES if (types.get(t) or {}).get("error")}})
        return Response.json({"proxies": rows, "types": list(TYPES)})

    def proxy(self, q: dict[str, list[str]]) -> Response:
        from pilot.proxyconfig.tables import summarize

        node = (q.get("id") or [""])[0]
        dump = self.sources.config_dump(node)
        if dump is None:
            return Response.json({"error": f"no proxy {node!r}"}, 404)
        tables = {}
        for kind in KINDS:
            summary = summarize(dump, kind)
            tables[kind] = {"columns": list(summary.columns), "rows": [list(r.cells) for r in summary.rows]}
        return Response.json({"id": node, "tables": tables, "config_dump": f"/debug/config_dump?proxy={node}",
                              "resources": {t.rsplit(".", 1)[-1]: len(v) for t, v in dump.items()}})
