"""Rich table and JSON for policy-test outcomes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from pilot.simulate.policytest import CaseOutcome


def _got(o: CaseOutcome) -> str:
    r = o.result
    if r is None:
        return "-"
    parts = []
    if r.clusters:
        parts.append(", ".join(f"{c.name} {c.probability:.0%}" if len(r.clusters) > 1 else c.name
                               for c in r.clusters))
    parts.append(f"allowed={r.allowed}" + (f" by {r.policy}" if r.policy else ""))
    if r.status is not None:
        parts.append(f"status={r.status}")
    if r.error:
        parts.append(r.error)
    return "; ".join(parts)


def outcomes_table(outcomes: Sequence[CaseOutcome], title: str = "policy tests") -> Table:
    t = Table(title=title)
    for col in ("test", "case", "expected", "got", "result"):
        t.add_column(col, overflow="fold")  # never cut a name off, at any terminal width
    for o in outcomes:
        expected = ", ".join(f"{k}={v}" for k, v in o.case.expect.items())
        verdict = "[green]PASS[/green]" if o.passed else "[red]FAIL[/red]\n" + "\n".join(o.failures)
        t.add_row(o.test, o.case.name, expected, _got(o), verdict)
    return t


def print_outcomes(outcomes: Sequence[CaseOutcome], console: Console | None = None, title: str = "policy tests"
                   ) -> None:
    console = console or Console()
    console.print(outcomes_table(outcomes, title))
    failed = sum(1 for o in outcomes if not o.passed)
    console.print(f"{len(outcomes) - failed} passed, {failed} failed")


def outcomes_json(outcomes: Sequence[CaseOutcome]) -> str:
    rows: list[dict[str, Any]] = [{"test": o.test, "case": o.case.name, "expect": dict(o.case.expect),
                                   "passed": o.passed, "failures": o.failures,
                                   "result": o.result.to_dict() if o.result else None} for o in outcomes]
    return json.dumps(rows, indent=2, default=str)
