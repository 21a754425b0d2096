"""Knative's gradual rollout step logic (pkg/reconciler/route/traffic/rollout.go), as tables of states."""

from __future__ import annotations

from pilot.knative import rollout
from pilot.knative.rollout import ConfigRollout, Step
from pilot.knative.traffic import Split

LATEST = Split("r1", 100, configuration="c", latest=True)


def _goal(revision: str, percent: int = 100, tag: str = "") -> rollout.Rollout:
    return rollout.build([Split(revision, percent, tag, "c", latest=True)])


def _run(duration: int, start: float = 100.0) -> list[tuple[float, tuple[tuple[str, int], ...]]]:
    """States of a rollout from r1 to r2 over `duration` seconds, stepping exactly when due."""
    prev, now = _goal("r1"), start
    cur, _ = rollout.step(_goal("r2"), prev, now)
    cur = rollout.observe_ready(cur, now, duration)
    states = [(now - start, cur[0].revisions)]
    while not cur[0].done:
        now = cur[0].step.next_step
        cur, _ = rollout.step(_goal("r2"), cur, now)
        states.append((round(now - start, 3), cur[0].revisions))
    return states


def test_six_seconds_moves_twenty_percent_a_second() -> None:
    assert _run(6) == [(0.0, (("r1", 99), ("r2", 1))), (1.0, (("r1", 79), ("r2", 21))),
                       (2.0, (("r1", 59), ("r2", 41))), (3.0, (("r1", 39), ("r2", 61))),
                       (4.0, (("r1", 19), ("r2", 81))), (5.0, (("r2", 100),))]


def test_long_rollout_has_at_most_percent_minus_one_steps() -> None:
    states = _run(120)
    assert len(states) == 100  # 1 % then 99 one-percent steps
    assert states[1] == (round(119 / 99, 3), (("r1", 98), ("r2", 2)))
    assert states[-1][1] == (("r2", 100),)
    shares = [dict(s).get("r2", 0) for _, s in states]
    assert shares == sorted(shares)


def test_no_previous_state_programs_the_goal_at_once() -> None:
    assert rollout.step(_goal("r1"), None, 5.0) == (_goal("r1"), 0.0)


def test_same_revision_is_no_rollout() -> None:
    cur, due = rollout.step(_goal("r1"), _goal("r1"), 5.0)
    assert cur == _goal("r1") and due == 0.0


def test_not_yet_due_does_not_step() -> None:
    prev = (ConfigRollout("c", "", 100, (("r1", 79), ("r2", 21)), Step(start=1, next_step=10, duration=1, size=20)),)
    cur, due = rollout.step(_goal("r2"), prev, 9.5)
    assert cur[0].revisions == (("r1", 79), ("r2", 21)) and due == 10


def test_a_third_revision_during_a_rollout_takes_one_percent_from_the_newest() -> None:
    prev = (ConfigRollout("c", "", 100, (("r1", 79), ("r2", 21)), Step(start=1, next_step=10, duration=1, size=20)),)
    cur, _ = rollout.step(_goal("r3"), prev, 5.0)
    assert cur[0].revisions == (("r1", 79), ("r2", 20), ("r3", 1))
    assert cur[0].step == Step(start=5.0)


def test_percent_change_mid_rollout() -> None:
    running = Step(start=1, next_step=10, duration=1, size=20)
    prev = (ConfigRollout("c", "", 100, (("r1", 79), ("r2", 21)), running),)
    smaller, _ = rollout.step(_goal("r2", 50), prev, 5.0)  # taken from the oldest first
    assert smaller[0].revisions == (("r1", 29), ("r2", 21))
    larger = (ConfigRollout("c", "", 50, (("r1", 29), ("r2", 21)), running),)
    grown, _ = rollout.step(_goal("r2", 80), larger, 5.0)  # the difference goes to the newest
    assert grown[0].revisions == (("r1", 29), ("r2", 51))


def test_step_larger_than_what_is_left_caps_at_the_target() -> None:
    prev = (ConfigRollout("c", "", 30, (("r1", 15), ("r2", 15)), Step(start=1, next_step=2, duration=1, size=20)),)
    cur, due = rollout.step(_goal("r2", 30), prev, 2.0)
    assert cur[0].revisions == (("r2", 30),) and cur[0].step == Step() and due == 0.0


def test_one_percent_targets_and_tags_roll_separately() -> None:
    goal = rollout.build([Split("r2", 1, "", "c", True), Split("r2", 100, "t", "c", True)])
    prev = rollout.build([Split("r1", 1, "", "c", True), Split("r1", 100, "t", "c", True)])
    cur, _ = rollout.step(goal, prev, 5.0)
    by_tag = {c.tag: c.revisions for c in cur}
    assert by_tag == {"": (("r2", 1),), "t": (("r1", 99), ("r2", 1))}


def test_apply_replaces_the_latest_target_with_its_revisions() -> None:
    ro = (ConfigRollout("c", "", 90, (("r1", 60), ("r2", 30))),)
    pinned = Split("r0", 10, "old")
    out = rollout.apply([pinned, Split("r2", 90, "", "c", True)], ro)
    assert out == (pinned, Split("r1", 60, "", "c", True), Split("r2", 30, "", "c", True))
