"""Workload certificates issued per second by the CA (key generation + signing + PEM encoding).

Run from the repository root:  python -m bench.ca_issue [--seconds 2] [--key-type ECDSA_P256 ...]
Single-threaded, like the control plane's event loop; results go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pilot.ca.authority import CertificateAuthority
from pilot.ca.tokens import TokenIssuer


def issue_rate(ca: CertificateAuthority, key_type: str, seconds: float) -> tuple[int, float]:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        ca.issue_workload("default", f"sa-{n}", ttl_s=86400, key_type=key_type)
        n += 1
    return n, elapsed


def verify_rate(seconds: float) -> tuple[int, float]:
    issuer = TokenIssuer(b"k" * 32)
    token = issuer.issue("default", "reviews", "reviews-v1-0", ttl_s=3600)
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        issuer.verify(token)
        n += 1
    return n, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent on each measurement")
    parser.add_argument("--key-type", action="append", help="repeatable; default ECDSA_P256 and RSA_2048")
    args = parser.parse_args()
    key_types = args.key_type or ["ECDSA_P256", "RSA_2048"]
    with tempfile.TemporaryDirectory() as tmp:
        for root_key in ("ECDSA_P256", "RSA_2048"):
            ca = CertificateAuthority.load_or_create(Path(tmp) / root_key, key_type=root_key)
            for key_type in key_types:
                n, elapsed = issue_rate(ca, key_type, args.seconds)
                rate = n / elapsed
                print(f"root {root_key:<10} leaf {key_type:<10} {rate:8.0f} certs/s  ({n} in {elapsed:.2f}s)")
    n, elapsed = verify_rate(args.seconds)
    print(f"proxy token verify                  {n / elapsed:8.0f} tokens/s ({n} in {elapsed:.2f}s)")


if __name__ == "__main__":
    main()
