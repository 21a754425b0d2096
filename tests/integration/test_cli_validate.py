"""`pilot validate`: one line per problem, `FILE:LINE: KIND NS/NAME: FIELD.PATH: message`, exit 1 on errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilot.cli import main

REPO = Path(__file__).resolve().parents[2]
BAD = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match:
    - uri: {regex: "/(unclosed"}
    route:
    - destination: {host: reviews, subset: v1}
      weight: -3
---
apiVersion: v1
kind: Frobnicator
metadata: {name: x}
"""


def test_errors_name_file_line_resource_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "vs.yaml"
    f.write_text(BAD)
    assert main(["validate", str(f)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert f"{f}:1: VirtualService default/reviews: spec.http[0].match[0].uri.regex: missing ): /(unclosed" in \
        "\n".join(lines)
    assert f"{f}:1: VirtualService default/reviews: spec.http[0].route[0].weight: weight -3 < 0" in lines
    assert f"{f}:13: Frobnicator x: warning: unknown kind Frobnicator: skipped" in lines


def test_everything_we_ship_and_istios_bookinfo_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(REPO / "policies")]) == 0
    assert main(["validate", str(REPO / "tests/fixtures/istio/samples/bookinfo")]) == 0
