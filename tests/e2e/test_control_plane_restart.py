"""Restarting the control plane: Envoys keep serving their last config while it is gone, reconnect when it
is back, and get the very same versions (versions are content hashes, not counters)."""

from __future__ import annotations

import pytest

from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = pytest.mark.e2e


def _versions(runner: MeshRunner) -> dict[tuple[str, str], str]:
    return {(e["proxy"], t): s["acked"] for e in runner.syncz() for t, s in e["types"].items() if s["acked"]}


def test_envoys_ride_out_a_control_plane_restart(running_mesh: MeshRunner) -> None:
    runner = running_mesh
    client = MeshClient(runner.mesh.pod("productpage"))
    before = _versions(runner)
    assert before and sum(client.versions("reviews", 200).values()) == 200

    assert runner.control_plane is not None
    runner.control_plane.stop()
    # No control plane: Envoy keeps its last good config and traffic flows as before.
    seen = client.versions("reviews", 300)
    assert seen["v1"] + seen["v2"] == 300 and abs(seen["v1"] / 3 - 80) <= 8, seen

    runner.start_control_plane()  # same addresses; /ready only after the first snapshot
    runner.wait_synced(20)
    assert _versions(runner) == before  # nothing new to send: identical content, identical versions
    seen = client.versions("reviews", 300)
    assert seen["v1"] + seen["v2"] == 300, seen
    for pod in runner.mesh.pods:
        assert runner.envoy_stat(pod, "update_rejected") == 0
