"""Rich rendering of a simulation: one table, path first, then the verdict."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from pilot.simulate.result import SimulationResult


def verdict(result: SimulationResult) -> str:
    if result.ok:
        return f"[green]ROUTED[/green] (status {result.status})" if result.status else "[green]ROUTED[/green]"
    return f"[red]FAILS[/red]: {result.error}" if result.error else "[red]DENIED[/red]"


def result_table(result: SimulationResult) -> Table:
    t = Table(title=f"{result.request.get('method')} {result.request.get('url')} from {result.source}",
              show_header=False)
    t.add_column("step", style="bold", overflow="fold")
    t.add_column("value", overflow="fold")
    for label, value in (("listener", result.listener), ("filter chain", result.filter_chain),
                         ("route config", result.route_config), ("virtual host", result.virtual_host),
                         ("route", result.route), ("action", result.action)):
        if value:
            t.add_row(label, value)
    for c in result.clusters:
        t.add_row("cluster", f"{c.name}  [dim]weight {c.weight} -> {c.probability:.0%}[/dim]")
    for e in result.endpoints:
        health = "" if e.healthy else " [red]unhealthy[/red]"
        t.add_row("endpoint", f"{e.address}:{e.port} {e.pod}{' (mTLS)' if e.tls else ''}{health}")
    for d in result.destinations:
        decision = "[green]allowed[/green]" if d.allowed else "[red]denied[/red]"
        extra = f" by {d.policy}" if d.policy else ""
        who = f" as {d.principal}" if d.principal else ""
        t.add_row("destination", f"{d.pod} {d.listener} -> {d.cluster or '-'}: {decision}{extra}{who}")
        for n in d.notes:
            t.add_row("", f"[dim]{n}[/dim]")
    for key, value in result.details.items():
        t.add_row(key, json.dumps(value))
    for n in result.notes:
        t.add_row("note", n)
    t.add_row("verdict", verdict(result))
    return t


def print_result(result: SimulationResult, console: Console | None = None) -> None:
    (console or Console()).print(result_table(result))
