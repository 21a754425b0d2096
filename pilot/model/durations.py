"""Durations as Istio YAML writes them: `10s`, `0.5s`, `100ms`, `1m`, `1h`, `1h30m`.

Istio accepts Go's `time.ParseDuration` syntax for its duration fields (and protobuf JSON's `"1.5s"`
form is a subset of it), so both validation and translation parse them here, in one place.
See https://pkg.go.dev/time#ParseDuration and
https://protobuf.dev/reference/protobuf/google.protobuf/#duration.
"""

from __future__ import annotations

import re

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_UNIT = r"(?:ns|us|µs|μs|ms|s|m|h)"
_WHOLE = re.compile(rf"(?:{_NUMBER}{_UNIT})+")
_PART = re.compile(rf"({_NUMBER})({_UNIT})")


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError with a message fit for a user if it is not a duration."""
    if not isinstance(text, str):
        raise ValueError(f'duration must be a string such as "10s" or "100ms", got {text!r}')
    value = text.strip()
    if value in ("0", "+0"):
        return 0.0
    if value.startswith("-"):
        raise ValueError(f"duration {text!r} must not be negative")
    if value.startswith("+"):
        value = value[1:]
    if not value:
        raise ValueError("duration must not be empty")
    if not _WHOLE.fullmatch(value):
        raise ValueError(f'invalid duration {text!r}: use a number and a unit (h, m, s, ms, us, ns), '
                         f'for example "10s", "1.5s" or "100ms"')
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(value))


def format_duration(seconds: float) -> str:
    """The protobuf JSON form of `seconds` ("1.500s" becomes "1.5s"), for messages and Envoy config."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"
