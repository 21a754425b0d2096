"""File mode: a (re)started replica listens at once but refuses ADS streams with UNAVAILABLE and answers
/ready 503 until its first full load of the config is done; then it serves the config."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pilot.server_main import ControlPlane, ServeOptions
from pilot.sources.files import FileSource
from pilot.testing.ads_client import AdsClient, AdsStreamClosed
from pilot.testing.mesh import BOOKINFO, LoopbackMesh
from pilot.xds.types import CLUSTER


def _ready_status(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


async def test_streams_are_refused_until_the_first_load_is_done(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    mesh = LoopbackMesh.build(BOOKINFO)
    (tmp_path / "mesh.yaml").write_text(mesh.yaml())
    release = threading.Event()
    real_load = FileSource.load

    def slow_load(self: FileSource) -> None:  # a big tree that takes a while to read
        assert release.wait(10)
        real_load(self)

    monkeypatch.setattr(FileSource, "load", slow_load)
    cp = ControlPlane(ServeOptions(config_dirs=[str(tmp_path)], xds_address="127.0.0.1:0",
                                   http_address="127.0.0.1:0"))
    starting = asyncio.create_task(cp.start())
    try:
        for _ in range(500):
            if cp.http_port:
                break
            await asyncio.sleep(0.01)
        assert cp.xds_port and cp.http_port, "the replica does not listen while it loads"
        assert await asyncio.to_thread(_ready_status, cp.http_port) == 503
        pod = mesh.pod("productpage")
        async with AdsClient(f"127.0.0.1:{cp.xds_port}", pod.node_id) as refused:
            await refused.start_auto()
            closed = await refused.closed_status()
            assert isinstance(closed, AdsStreamClosed)
            assert closed.code is not None and closed.code.name == "UNAVAILABLE", closed
            assert not refused.received

        release.set()
        await asyncio.wait_for(starting, 10)
        assert await asyncio.to_thread(_ready_status, cp.http_port) == 200
        async with AdsClient(f"127.0.0.1:{cp.xds_port}", pod.node_id) as served:
            await served.start_auto()
            await served.wait_acked(timeout=10)
            assert any("reviews" in name for name in served.resources[CLUSTER])
    finally:
        release.set()
        if not starting.done():
            await asyncio.wait_for(starting, 10)
        await cp.stop()
