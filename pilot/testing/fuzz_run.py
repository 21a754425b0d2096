"""Counting fuzz runs and sampling what they accepted for Envoy (shared by tests/fuzz and bench/fuzz.py).

`FuzzRun.feed(text, documents)` runs one generated file through the pipeline and counts it; every
`stride`-th distinct translated proxy config (up to `sample_max`) is kept, and `check_envoy()` hands
the kept ones to a real Envoy (envoy_static.validate_all).
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from pilot.testing.envoy_static import Rejection, Resources, validate_all
from pilot.testing.fuzz_pipeline import FuzzPipeline


@dataclass
class FuzzStats:
    files: int = 0
    documents: int = 0
    accepted: int = 0  # resources admitted into the snapshot
    rejected: int = 0  # error findings
    crashes: list[str] = field(default_factory=list)  # one line + where, per crashing input
    envoy_sampled: int = 0
    envoy_rejected: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {"inputs": self.documents, "files": self.files, "accepted": self.accepted, "rejected": self.rejected,
                "crashes": len(self.crashes), "envoy_validated": self.envoy_sampled,
                "envoy_rejections": len(self.envoy_rejected)}


class FuzzRun:
    def __init__(self, workdir: Path, stride: int = 5, sample_max: int = 200) -> None:
        self.pipeline = FuzzPipeline(workdir)
        self.stats = FuzzStats()
        self.stride, self.sample_max = stride, sample_max
        self.sample: list[tuple[str, Resources]] = []  # (what produced it, resources)
        self._seen: set[bytes] = set()

    def feed(self, text: str | bytes, documents: int, *, catch: bool = False) -> None:
        """Run one file; with `catch`, a crash is counted instead of raised."""
        self.stats.files += 1
        self.stats.documents += documents
        try:
            out = self.pipeline.run(text)
        except Exception as problem:
            if not catch:
                raise
            where = traceback.extract_tb(problem.__traceback__)[-1]
            self.stats.crashes.append(f"{type(problem).__name__}: {problem} at {where.filename}:{where.lineno}\n"
                                      f"  input: {text[:1500]!r}")
            return
        self.stats.accepted += len(out.accepted)
        self.stats.rejected += len(out.rejected)
        for node_id, resources in out.translated:
            self._maybe_sample(f"{node_id} <- {text[:2000]!r}", resources)

    def _maybe_sample(self, label: str, resources: Resources) -> None:
        digest = hashlib.blake2b(digest_size=16)
        for type_url in sorted(resources):
            for name, packed in sorted(resources[type_url].items()):
                digest.update(name.encode() + packed.value)
        key = digest.digest()
        if key in self._seen:
            return
        self._seen.add(key)
        if len(self._seen) % self.stride == 0 and len(self.sample) < self.sample_max:
            self.sample.append((label, resources))

    def check_envoy(self, batch: int = 40) -> list[Rejection]:
        rejections = validate_all([r for _, r in self.sample], batch=batch)
        self.stats.envoy_sampled = len(self.sample)
        self.stats.envoy_rejected = [f"{self.sample[r.index][0]}\n  envoy: {r.message}" for r in rejections]
        return rejections
