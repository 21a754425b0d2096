"""What `pilot demo --knative` shows: the share of each revision in the last second, as the client saw it,
next to the control plane's routing, and the events (rollout steps, scale to zero, cold starts).

Like the Bookinfo demo (pilot/demo_view.py): a rich table on a terminal, one flushed plain line a second
otherwise, with each event on a line of its own as it happens.
"""

from __future__ import annotations

from collections import deque

from rich.console import Group, RenderableType
from rich.text import Text

from pilot.demo_view import WINDOW_S, Flow, LiveOutput, PlainOutput, flow_table, plain_line

EVENTS_SHOWN = 12


def _stamp(elapsed: float) -> str:
    return f"[{elapsed:4.0f}s]"


class KnativePlain(PlainOutput):
    def event(self, text: str, elapsed: float) -> None:
        self.note(f"{_stamp(elapsed)} event: {text}")

    def frame(self, flows: list[Flow], route: str, findings: list[str], elapsed: float) -> None:
        self.note_findings(findings)
        self.note(plain_line(flows, elapsed, f"route {route}"))


class KnativeLive(LiveOutput, KnativePlain):
    def __init__(self, footer: str, title: str) -> None:
        super().__init__(footer)
        self.title = title
        self.events: deque[str] = deque(maxlen=EVENTS_SHOWN)

    def event(self, text: str, elapsed: float) -> None:
        self.events.append(f"{_stamp(elapsed)} {text}")

    def frame(self, flows: list[Flow], route: str, findings: list[str], elapsed: float) -> None:
        parts: list[RenderableType] = [flow_table(flows, f"{self.title} (last {WINDOW_S:g} s)"),
                               Text(f"control plane routes: {route}"), Text("events:", style="bold")]
        parts += [Text(f"  {line}") for line in self.events] or [Text("  (none yet)")]
        if findings:
            parts.append(Text("config the control plane did not take (last good version still served):",
                              style="bold red"))
            parts += [Text(f"  {line}") for line in findings]
        self.live.update(Group(*parts, self.footer))


def knative_output(tty: bool, footer: str, title: str) -> KnativePlain:
    return KnativeLive(footer, title) if tty else KnativePlain()
