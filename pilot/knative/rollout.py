"""Gradual rollout of a new latest revision (`serving.knative.dev/rollout-duration`), with the step logic
of Knative's pkg/reconciler/route/traffic/rollout.go:

- A new latest ready revision starts at 1 %, taken from the newest older revision that still has traffic.
- Once that state is programmed ("ingress ready"), the steps are sized: the minimal step is the time the
  first one took, at least 1 s; the rest of the duration is split into at most `percent - 1` steps of
  `round((percent - 1) / steps)` percent, one every `duration / steps` seconds.
- Each step moves that much from the older revisions (newest first) to the latest, until it has all of
  the target's percent and the older ones drop out.
- A target's percent changing mid-rollout gives the difference to (or takes it from the oldest of) the
  revisions in flight.

One rollout per (tag, configuration) of the route's `latestRevision` targets with more than 1 %. meshpilot's
"ingress ready" is the push of the state itself, so the steps are sized as the rollout starts (Knative's
1 s minimum step then applies). Times are seconds on the reconciler's clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from pilot.knative.traffic import Split


@dataclass(frozen=True)
class Step:
    start: float = 0.0  # when the rollout began (0: none in progress)
    next_step: float = 0.0
    duration: float = 0.0  # seconds between steps (0: not sized yet)
    size: int = 0  # percent moved per step


@dataclass(frozen=True)
class ConfigRollout:
    configuration: str
    tag: str
    percent: int  # the target's share of the route; the revisions' percents add up to it
    revisions: tuple[tuple[str, int], ...]  # (revision, percent), oldest first
    step: Step = Step()

    @property
    def done(self) -> bool:
        return len(self.revisions) < 2


Rollout = tuple[ConfigRollout, ...]  # sorted by (tag, configuration)


def build(splits: Iterable[Split]) -> Rollout:
    """The steady state the spec asks for (Knative's BuildRollout): each latest target at its revision."""
    return _sorted(ConfigRollout(s.configuration, s.tag, s.percent, ((s.revision, s.percent),))
                   for s in splits if s.latest and s.percent > 0)


def step(cur: Rollout, prev: Rollout | None, now: float) -> tuple[Rollout, float]:
    """Merge the wanted state with the previous one (Knative's Rollout.Step): the traffic to program
    now and when the next step is due (0: none)."""
    if not prev:
        return cur, 0.0
    previous = {(c.tag, c.configuration): c for c in prev}
    out: list[ConfigRollout] = []
    due = math.inf
    for goal in cur:
        before = previous.get((goal.tag, goal.configuration))
        if before is None or goal.percent <= 1:
            out.append(goal)
            continue
        merged = _step_config(goal, before, now)
        out.append(merged)
        if merged.step.next_step > 0:
            due = min(due, merged.step.next_step)
    return _sorted(out), (0.0 if due == math.inf else due)


def observe_ready(ro: Rollout, now: float, duration: float) -> Rollout:
    """Size the steps of rollouts that have started but not been sized (Knative's ObserveReady)."""
    out = []
    for c in ro:
        if c.step.duration == 0 and c.step.start > 0:
            min_step = max(1.0, math.ceil(now - c.step.start))
            c = replace(c, step=_sized(c, now, min_step, duration))
        out.append(c)
    return tuple(out)


def apply(splits: Iterable[Split], ro: Rollout) -> tuple[Split, ...]:
    """The splits with each rolling target replaced by its revisions' shares."""
    by_key = {(c.tag, c.configuration): c for c in ro}
    out: list[Split] = []
    for s in splits:
        c = by_key.get((s.tag, s.configuration)) if s.latest else None
        if c is None:
            out.append(s)
            continue
        out.extend(Split(rev, pct, s.tag, s.configuration, latest=True) for rev, pct in c.revisions if pct > 0)
    return tuple(out)


def _step_config(goal: ConfigRollout, prev: ConfigRollout, now: float) -> ConfigRollout:
    revisions = list(prev.revisions)
    if revisions:
        revisions = _adjust(goal.percent, prev.percent, revisions)
    if not revisions or goal.revisions[0][0] == revisions[-1][0]:
        # No new revision: carry on the rollout in flight, if any.
        if len(revisions) > 1:
            current = replace(goal, revisions=tuple(revisions), step=prev.step)
            return _step_revisions(current, now) if current.step.size > 0 else current
        return goal
    # A new revision: it gets 1 %, taken from the newest older revision that has traffic.
    for i in range(len(revisions) - 1, -1, -1):
        name, pct = revisions[i]
        if pct > 0:
            revisions[i] = (name, pct - 1)
            break
    kept = tuple(r for r in revisions if r[1] > 0)
    return replace(goal, revisions=(*kept, (goal.revisions[0][0], 1)), step=Step(start=now))


def _adjust(goal: int, had: int, revisions: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Knative's adjustPercentage: a bigger share goes to the newest revision, a smaller one is taken
    from the oldest first."""
    if goal == 0:
        return []
    diff = goal - had
    if diff > 0:
        name, pct = revisions[-1]
        return [*revisions[:-1], (name, pct + diff)]
    take, i = -diff, 0
    out = list(revisions)
    while take > 0 and i < len(out):
        name, pct = out[i]
        if pct > take:
            out[i] = (name, pct - take)
            break
        take -= pct
        i += 1
    return out[i:]


def _step_revisions(c: ConfigRollout, now: float) -> ConfigRollout:
    """Knative's stepRevisions: move `size` percent from the older revisions (newest first) to the latest."""
    if now < c.step.next_step or len(c.revisions) < 2:
        return c
    revisions = list(c.revisions)
    remaining = c.step.size
    write, read = len(revisions) - 1, len(revisions) - 2
    while remaining > 0 and read >= 0:
        name, pct = revisions[read]
        if pct > remaining:
            revisions[read] = (name, pct - remaining)
            break
        remaining -= pct
        write -= 1
        read -= 1
    latest_name, latest_pct = revisions[-1]
    revisions[write] = (latest_name, min(c.percent, latest_pct + c.step.size))
    revisions = revisions[:write + 1]
    params = replace(c.step, next_step=now + c.step.duration) if len(revisions) > 1 else Step()
    return replace(c, revisions=tuple(revisions), step=params)


def _sized(c: ConfigRollout, now: float, min_step: float, duration: float) -> Step:
    """Knative's computeProperties."""
    duration = max(1.0, duration - min_step)
    steps = max(1.0, duration / min_step)
    remaining = float(c.percent - 1)
    if remaining < steps:
        steps = max(1.0, remaining)
    size = math.floor(remaining / steps + 0.5)  # Go's math.Round: halves away from zero
    every = duration / steps
    return replace(c.step, duration=every, size=int(size), next_step=now + every)


def _sorted(items: Iterable[ConfigRollout]) -> Rollout:
    return tuple(sorted(items, key=lambda c: (c.tag, c.configuration)))
