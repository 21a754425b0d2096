from __future__ import annotations

from pathlib import Path

import pytest
from ca_test_kit import FakeClock

from pilot.ca.authority import CertificateAuthority


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    return tmp_path / "ca"


@pytest.fixture
def ca(ca_dir: Path, clock: FakeClock) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(ca_dir, "cluster.local", clock=clock)
