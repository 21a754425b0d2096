"""Property-based fuzzing at volume: generated config files (well-formed and mutated, every served kind)
through load -> validation -> snapshot -> translation for 3 proxies -> xDS cache, and a sample of the
accepted, translated configs through `envoy --mode validate` (issue #13).

Run from the repository root:  python -m bench.fuzz --examples 100000 [--seed 1] [--envoy-sample 1000]
`--examples` counts generated documents (inputs); files hold 1..3. Prints one JSON summary line (and
writes it to --out): inputs, accepted, rejected, crashes, Envoy-validated sample, Envoy rejections,
seconds. Crashes and Envoy rejections are listed after it. Exit status 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from pilot.testing.fuzz_mutations import config_file
from pilot.testing.fuzz_run import FuzzRun


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10000, help="generated documents (inputs)")
    parser.add_argument("--seed", type=int, default=1, help="hypothesis seed (same seed, same inputs)")
    parser.add_argument("--envoy-sample", type=int, default=1000, help="most distinct proxy configs for Envoy")
    parser.add_argument("--stride", type=int, default=10, help="keep every n-th distinct proxy config")
    parser.add_argument("--out", type=Path, default=None, help="also write the summary JSON here")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, object]:
    start = time.perf_counter()
    files = st.one_of(config_file(mutate=0.0, tweak=0.0), config_file(mutate=1.0, tweak=0.3))
    with tempfile.TemporaryDirectory() as tmp:
        fuzz = FuzzRun(Path(tmp), stride=args.stride, sample_max=args.envoy_sample)

        rounds = 0
        # Hypothesis counts files, not documents (2 a file on average): rounds until the target is met.
        while fuzz.stats.documents < args.examples:
            remaining = args.examples - fuzz.stats.documents

            @seed(args.seed + rounds)
            @settings(max_examples=remaining // 2 + 1, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(files)
            def feed(generated: tuple[str | bytes, int]) -> None:
                if fuzz.stats.documents < args.examples:
                    fuzz.feed(*generated, catch=True)

            feed()
            rounds += 1
        generated_s = time.perf_counter() - start
        fuzz.check_envoy()
    summary = {**fuzz.stats.summary(), "seconds": round(time.perf_counter() - start, 1),
               "pipeline_seconds": round(generated_s, 1), "seed": args.seed}
    summary["details"] = {"crashes": fuzz.stats.crashes[:50], "envoy_rejections": fuzz.stats.envoy_rejected[:20]}
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = run(args)
    details = summary.pop("details")
    line = json.dumps(summary)
    print(line)
    if args.out is not None:
        args.out.write_text(line + "\n")
    assert isinstance(details, dict)
    for problem in [*details["crashes"], *details["envoy_rejections"]]:
        print(problem, file=sys.stderr)
    return 1 if summary["crashes"] or summary["envoy_rejections"] else 0


if __name__ == "__main__":
    sys.exit(main())
