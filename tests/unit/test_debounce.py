from __future__ import annotations

from pilot.debounce import Debouncer


def test_quiet_period_resets_on_each_event() -> None:
    d = Debouncer(after=0.1, max_delay=10)
    assert d.deadline() is None
    d.event(0.0, {"a"})
    d.event(0.05, {"b"})
    assert not d.due(0.1)
    assert d.due(0.16)
    assert d.take() == {"a", "b"}
    assert d.deadline() is None


def test_max_delay_bounds_a_storm_of_events() -> None:
    d = Debouncer(after=0.1, max_delay=1.0)
    t = 0.0
    while t < 0.99:
        d.event(t)
        assert not d.due(t)
        t += 0.05
    d.event(1.0)
    assert d.due(1.0)
