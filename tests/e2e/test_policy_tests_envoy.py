"""`pilot test --verify-envoy` on the bundled Bookinfo policy tests: real Envoys agree with the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilot.cli import main
from pilot.cli_policy import load_resources
from pilot.simulate.policytest import load_tests
from pilot.testing.policy_verify import verify_with_envoy

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "policies/tests"


def test_every_bundled_case_is_replayed_through_envoy() -> None:
    tests = load_tests([TESTS])
    outcomes = verify_with_envoy(tests, lambda paths: load_resources(paths, quiet=True))
    assert len(outcomes) == sum(len(t.cases) for t in tests) >= 8
    failures = [(o.test, o.case.name, o.failures) for o in outcomes if not o.passed]
    assert failures == []
    assert all(o.test.endswith("[envoy]") and o.result is not None for o in outcomes)


def test_cli_verify_envoy_exit_code() -> None:
    assert main(["test", str(TESTS / "ratings-fault.yaml"), "--verify-envoy"]) == 0


def test_a_simulator_bug_cannot_hide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A simulator that predicts 50/50 instead of 80/20, and v3 for jason, is caught by Envoy."""
    from pilot.simulate.engine import Simulator

    real_run = Simulator.run

    def buggy_run(self: Simulator, source: str, request: object):  # type: ignore[no-untyped-def]
        result = real_run(self, source, request)  # type: ignore[arg-type]
        if len(result.clusters) == 2:
            for c in result.clusters:
                c.probability = 0.5
        for e in result.endpoints:
            if e.labels.get("version") == "v2" and len(result.clusters) == 1:
                e.labels = {**e.labels, "version": "v3"}
        return result

    monkeypatch.setattr(Simulator, "run", buggy_run)
    tests = load_tests([TESTS / "reviews-routing.yaml"])
    outcomes = {o.case.name: o for o in verify_with_envoy(tests, lambda p: load_resources(p, quiet=True))}
    assert not outcomes["canary split"].passed
    assert any("predicted 50%" in f for f in outcomes["canary split"].failures)
    assert not outcomes["jason sees v2"].passed
    assert outcomes["an unknown host hits block_all"].passed
