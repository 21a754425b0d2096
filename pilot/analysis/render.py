"""Rich table of analyzer findings, `istioctl analyze` style."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from pilot.model.findings import Finding

_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def findings_table(findings: Sequence[Finding]) -> Table:
    t = Table(title="analysis")
    # Fold long cells onto more lines at any terminal width: a cut-off name or path is useless.
    for col in ("level", "code"):
        t.add_column(col, no_wrap=True)
    for col in ("resource", "field", "message", "where"):
        t.add_column(col, overflow="fold")
    for f in findings:
        level = f.severity.value
        t.add_row(f"[{_STYLE.get(level, 'white')}]{level.capitalize()}[/]", f.code, f.resource_ref, f.field,
                  f.message, str(f.origin))
    return t


def print_findings(findings: Sequence[Finding], console: Console | None = None) -> None:
    console = console or Console()
    if not findings:
        console.print("[green]No validation issues found when analyzing the given files.[/green]")
        return
    console.print(findings_table(findings))
