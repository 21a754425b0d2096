"""Hypothesis settings and strategies of the fuzz tests: deterministic, database-free, no deadline, so CI
runs the same inputs every time (the generators live in pilot.testing.fuzz_* for bench/fuzz.py too)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from pilot.testing.fuzz_mutations import config_file

# Documents per file are 1..4 (2.5 on average): FILES files make about 2.5 * FILES inputs.
FILES = 2000


def ci_settings(max_examples: int = FILES) -> settings:
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=False)


well_formed_files = config_file(max_docs=4, mutate=0.0, tweak=0.0)
"""Files of generated documents as written (valid shapes, random values)."""

mutated_files = config_file(max_docs=4, mutate=1.0, tweak=0.3)
"""Files whose every document is mutated, a third of them tweaked as text."""

any_file: st.SearchStrategy[tuple[str | bytes, int]] = st.one_of(well_formed_files, mutated_files)
