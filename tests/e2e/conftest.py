"""Fixtures for e2e tests: a whole mesh on loopback with real Envoys, stopped by PID afterwards."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pilot.testing.mesh import BOOKINFO, LoopbackMesh
from pilot.testing.runner import MeshRunner

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bookinfo_dir(tmp_path: Path) -> Iterator[tuple[Path, LoopbackMesh]]:
    """A config dir holding Bookinfo on this test's own loopback block + Istio's DR and our VS."""
    mesh = LoopbackMesh.build(BOOKINFO)
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "mesh.yaml").write_text(mesh.yaml())
    shutil.copy(REPO / "policies/bookinfo/destination-rule-all.yaml", cfg)
    shutil.copy(REPO / "policies/bookinfo/virtual-service-reviews.yaml", cfg)
    yield cfg, mesh


@pytest.fixture
def running_mesh(bookinfo_dir: tuple[Path, LoopbackMesh], request: pytest.FixtureRequest
                 ) -> Iterator[MeshRunner]:
    cfg, mesh = bookinfo_dir
    runner = MeshRunner(cfg, mesh, delta=getattr(request, "param", "sotw") == "delta")
    with runner.running():
        yield runner
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print(runner.report())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
