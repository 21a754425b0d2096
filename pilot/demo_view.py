"""What `pilot demo` shows: who answered each flow in the last second, rejected config, proxy status.

A time window (not the last N requests) so that an edit shows within about a second whatever the rate.
On a terminal it is a rich table redrawn in place; otherwise (a file, a pipe, CI) one plain line a second.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

WINDOW_S = 1.0


@dataclass
class Flow:
    service: str
    versions: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict)
    samples: deque[tuple[float, str, bool]] = field(default_factory=deque)  # (time, outcome, answered 200)

    @property
    def label(self) -> str:
        return self.service + "".join(f" ({k}: {v})" for k, v in self.headers.items())

    def record(self, outcome: str, ok: bool, now: float | None = None) -> None:
        self.samples.append((time.monotonic() if now is None else now, outcome, ok))

    def split(self, now: float | None = None) -> tuple[int, Counter[str], Counter[str]]:
        """(requests in the window, answers per version, errors per kind)."""
        cutoff = (time.monotonic() if now is None else now) - WINDOW_S
        while self.samples and self.samples[0][0] < cutoff:
            self.samples.popleft()
        versions: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        for _t, outcome, ok in self.samples:
            (versions if ok else errors)[outcome] += 1
        return len(self.samples), versions, errors

    def summary(self, now: float | None = None) -> str:
        """`reviews: v1 80% v2 20% v3 0% err 0% n=50`, with the commonest error when there are errors."""
        n, versions, errors = self.split(now)
        if not n:
            return f"{self.label}: no answer in the last {WINDOW_S:g}s"
        shares = " ".join(f"{v} {_pct(versions[v], n)}" for v in self._columns(versions))
        err = f"err {_pct(sum(errors.values()), n)}"
        if errors:
            err += f" ({errors.most_common(1)[0][0]})"
        return f"{self.label}: {shares} {err} n={n}"

    def _columns(self, versions: Counter[str]) -> list[str]:
        return [*self.versions, *sorted(set(versions) - set(self.versions))]


def _pct(count: int, n: int) -> str:
    return f"{round(100 * count / n)}%"


def finding_lines(configz: dict[str, Any], config_dir: Path) -> list[str]:
    """`file:line: KIND ns/name: field: message` for what the control plane rejected or warns about
    (its /debug/configz `findings`), file names relative to the config dir."""
    lines = []
    for f in configz.get("findings", []):
        path = str(f.get("file") or "")
        try:
            path = str(Path(path).relative_to(config_dir))
        except ValueError:
            pass
        parts = [f"{path}:{f.get('line', 0)}" if path else "<config>"]
        if f.get("kind"):
            parts.append(f"{f['kind']} {f.get('namespace')}/{f.get('name')}" if f.get("namespace")
                         else f"{f['kind']} {f.get('name')}")
        if f.get("field"):
            parts.append(str(f["field"]))
        severity = f.get("severity", "error")
        parts.append(str(f.get("message")) if severity == "error" else f"{severity}: {f.get('message')}")
        lines.append(("rejected: " if severity == "error" else "") + ": ".join(parts))
    return sorted(lines)


def proxy_states(syncz: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """pod name -> xDS type -> SYNCED/STALE/NOT_SENT/ERROR, from the control plane's /debug/syncz."""
    out = {}
    for row in syncz:
        pod = row["proxy"].split("~")[2].split(".")[0]
        out[pod] = {t: s.get("status", "-") for t, s in row.get("types", {}).items()}
    return out


def sync_summary(states: dict[str, dict[str, str]], expected: int) -> str:
    synced = sum(all(s in ("SYNCED", "NOT_SENT") for s in types.values()) for types in states.values())
    return f"proxies synced {synced}/{expected}"


def plain_line(flows: list[Flow], elapsed: float, sync: str) -> str:
    return f"[{elapsed:4.0f}s] " + " | ".join(f.summary() for f in flows) + f" | {sync}"


def flow_table(flows: list[Flow], title: str) -> Table:
    """One row per flow: the share of each version (the columns: every flow's versions, in order)."""
    columns = list(dict.fromkeys(v for f in flows for v in f.versions))
    t = Table(title=title)
    t.add_column("flow")
    for v in columns:
        t.add_column(v, justify="right")
    t.add_column("errors", justify="right")
    t.add_column("req/s", justify="right")
    for f in flows:
        n, versions, errors = f.split()
        cells = [f"{100 * versions[v] / n:5.1f} %" if n and v in f.versions else "" for v in columns]
        err = f"{100 * sum(errors.values()) / n:5.1f} %" if n else "-"
        if errors:
            err += f" {errors.most_common(1)[0][0]}"
        t.add_row(f.label, *cells, err, f"{n / WINDOW_S:.0f}")
    return t


def rich_view(flows: list[Flow], states: dict[str, dict[str, str]], findings: list[str], footer: str) -> Group:
    t = flow_table(flows, f"productpage → service: who answered (last {WINDOW_S:g} s per flow)")
    s = Table(title="proxy status (control plane /debug/syncz)")
    s.add_column("proxy")
    for typ in ("cds", "eds", "lds", "rds"):
        s.add_column(typ.upper())
    for pod, types in sorted(states.items()):
        s.add_row(pod, *[types.get(typ, "-") for typ in ("cds", "eds", "lds", "rds")])
    parts: list[Any] = [t, s]
    if findings:
        parts.append("[bold red]config the control plane did not take[/] (last good version still served):")
        parts.extend(Text(f"  {line}") for line in findings)  # Text: `[1]` in a field path is no markup
    return Group(*parts, footer)


class OutputGone(Exception):
    """stdout was closed (`pilot demo | head`): stop like on a signal."""


class PlainOutput:
    """Off a terminal: one flushed line per second, and rejected config when it changes."""

    period = 1.0  # seconds between lines

    def __init__(self) -> None:
        self.findings: list[str] = []

    def note(self, text: str) -> None:
        try:
            print(text, flush=True)
        except OSError as exc:  # a closed pipe or terminal
            with contextlib.suppress(OSError):  # no "Exception ignored" from the final flush at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise OutputGone() from exc

    def show(self, flows: list[Flow], states: dict[str, dict[str, str]], findings: list[str],
             elapsed: float, expected: int) -> None:
        self.note_findings(findings)
        self.note(plain_line(flows, elapsed, sync_summary(states, expected)))

    def note_findings(self, findings: list[str]) -> None:
        if findings != self.findings:
            for line in findings if findings else ["config accepted: nothing rejected"]:
                self.note(line)
            self.findings = findings

    def close(self) -> None:
        pass


class LiveOutput(PlainOutput):
    """On a terminal: a rich table redrawn in place."""

    period = 0.25

    def __init__(self, footer: str) -> None:
        super().__init__()
        self.console = Console()
        self.footer = footer
        self.live = Live(console=self.console, refresh_per_second=4)
        self.live.start()

    def show(self, flows: list[Flow], states: dict[str, dict[str, str]], findings: list[str],
             elapsed: float, expected: int) -> None:
        self.live.update(rich_view(flows, states, findings, self.footer))

    def close(self) -> None:
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            self.live.stop()
