"""Property-based fuzzing of the whole config path (issue #13: bad input under load).

For every generated file, well-formed or mutated: loading, validation, the snapshot, translation for
two sidecars and the ingress gateway, and xDS serialisation raise nothing; every rejection names its
field path and resource (fuzz_pipeline.check_findings). A sample of the accepted configs, translated,
is accepted by a real Envoy (`envoy --mode validate`). About 5,000 inputs (documents) each, the same
every run (derandomized); ~45 s of CPU for both. More: `python -m bench.fuzz --examples 100000`.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given

from pilot.testing.fuzz_run import FuzzRun
from tests.fuzz.strategies import ci_settings, mutated_files, well_formed_files


def _fuzz(tmp_path: Path, files: object, stride: int) -> FuzzRun:
    run = FuzzRun(tmp_path, stride=stride, sample_max=80)

    @ci_settings()
    @given(files)
    def feed(generated: tuple[str | bytes, int]) -> None:
        run.feed(*generated)

    feed()
    return run


def _envoy_accepts_the_sample(run: FuzzRun, at_least: int) -> None:
    rejections = run.check_envoy()
    assert run.stats.envoy_sampled >= at_least, run.stats.summary()
    assert not rejections, "\n".join(run.stats.envoy_rejected[:3])


def test_well_formed_configs_never_crash_and_envoy_accepts_what_is_accepted(tmp_path: Path) -> None:
    run = _fuzz(tmp_path, well_formed_files, stride=4)
    stats = run.stats
    assert stats.documents >= 4500 and stats.accepted >= stats.documents // 5, stats.summary()
    _envoy_accepts_the_sample(run, 60)


def test_mutated_configs_are_rejected_by_field_never_crash(tmp_path: Path) -> None:
    run = _fuzz(tmp_path, mutated_files, stride=1)
    stats = run.stats
    assert stats.documents >= 4500 and stats.rejected >= stats.documents // 2, stats.summary()
    _envoy_accepts_the_sample(run, 10)
