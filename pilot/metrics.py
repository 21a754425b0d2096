"""Prometheus text exposition for the control plane (`/metrics`)."""

from __future__ import annotations

from typing import Any

from pilot.xds.metrics import render_prometheus


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value}"
    return f"{name} {value}"


def render_metrics(cp: Any) -> str:
    lines: list[str] = []
    stats = cp.controller.stats
    gauges = {
        "meshpilot_snapshots_built_total": stats.snapshots_built,
        "meshpilot_pushes_total": stats.pushes,
        "meshpilot_last_push_seconds": stats.last_push_seconds,
        "meshpilot_translations_total": stats.translations,
        "meshpilot_translation_cache_hits_total": stats.translation_cache_hits,
        "meshpilot_translation_errors_total": stats.translation_errors,
        "meshpilot_connected_proxies": len(cp.controller.nodes),
        "meshpilot_config_errors": sum(1 for f in cp.store.findings() if f.is_error),
        "meshpilot_ready": 1 if cp.controller.ready else 0,
    }
    for name, value in gauges.items():
        lines.append(_line(name, float(value)))
    ratelimit = getattr(cp, "ratelimit", None)
    if ratelimit is not None:
        lines.append(_line("meshpilot_ratelimit_decisions_total", float(ratelimit.allowed), {"code": "ok"}))
        lines.append(_line("meshpilot_ratelimit_decisions_total", float(ratelimit.over_limit),
                           {"code": "over_limit"}))
    lines.append(_line("meshpilot_translation_findings",
                       float(sum(len(f) for f in cp.controller.translation_findings.values()))))
    lines.extend(_istio_lines(cp))
    for part in (getattr(cp, "security", None), getattr(cp, "activator", None)):
        if part is not None:
            lines.extend(part.metrics_lines())
    return "\n".join(lines) + "\n" + render_prometheus(cp.xds.metrics())


def _istio_lines(cp: Any) -> list[str]:
    """Istio's names for what dashboards built for istiod look at
    (https://istio.io/latest/docs/reference/commands/pilot-discovery/#metrics)."""
    xds = cp.xds.metrics()
    lines = ["# TYPE pilot_xds gauge", _line("pilot_xds", xds.get("streams_active", 0.0)),
             "# TYPE pilot_xds_pushes counter"]
    for key, value in sorted(xds.items()):
        if key.startswith("pushes_total{"):
            lines.append("pilot_xds_pushes" + key.removeprefix("pushes_total") + f" {value:g}")
    lines.extend(cp.controller.metrics.lines())
    lines.extend(cp.xds.histogram_lines())
    return lines
