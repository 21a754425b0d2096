"""Table-driven validation tests: each case is (kind, spec, expected findings).

An expectation is `(field, text)` for an error or `("W", field, text)` for a warning; `text` must
occur in the message. Matching is exact both ways: every expected finding must be reported and
every reported finding must be expected, so a validator that reports too much fails too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pilot.validation import validate_resource
from tests.unit.validation.helpers import assert_findings, make_resource

Check = Callable[..., None]


@pytest.fixture
def check() -> Check:
    def run(kind: str, spec: Any, expected: Sequence[tuple[str, ...]], **kwargs: Any) -> None:
        assert_findings(validate_resource(make_resource(kind, spec, **kwargs)), expected)
    return run
