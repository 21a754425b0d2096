"""A parser for the Prometheus text exposition format (what Envoy's `/stats/prometheus` serves).

Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
`name{label="value",...} value [timestamp]`; `#` lines are comments (HELP/TYPE); label values escape
`\\`, `\"` and `\n`. Lines we cannot read are skipped: one odd line must not hide a whole scrape.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs: hashable, order-independent


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Labels
    value: float

    def label(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.labels if k == name), default)


class ParseError(ValueError):
    pass


def parse(text: str, names: Iterable[str] | None = None) -> Iterator[Sample]:
    """Samples in `text`; with `names`, only those metrics (cheap prefix test before parsing a line)."""
    wanted = tuple(names) if names is not None else None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if wanted is not None and not line.startswith(wanted):
            continue
        try:
            sample = parse_line(line)
        except ParseError:
            continue
        if wanted is None or sample.name in wanted:
            yield sample


def parse_line(line: str) -> Sample:
    brace = line.find("{")
    space = line.find(" ")
    if brace != -1 and (space == -1 or brace < space):
        name = line[:brace]
        labels, rest = _labels(line, brace + 1)
    else:
        if space == -1:
            raise ParseError(f"no value: {line!r}")
        name, rest = line[:space], line[space:]
        labels = ()
    if not name or not _is_name(name):
        raise ParseError(f"bad metric name: {line!r}")
    fields = rest.split()
    if not fields or len(fields) > 2:
        raise ParseError(f"want a value and an optional timestamp: {line!r}")
    return Sample(name, labels, _value(fields[0]))


def _labels(line: str, i: int) -> tuple[Labels, str]:
    out: list[tuple[str, str]] = []
    n = len(line)
    while True:
        while i < n and line[i] in " ,":
            i += 1
        if i < n and line[i] == "}":
            return tuple(sorted(out)), line[i + 1:]
        eq = line.find("=", i)
        if eq == -1 or eq + 1 >= n or line[eq + 1] != '"':
            raise ParseError(f"bad label at {i}: {line!r}")
        key = line[i:eq].strip()
        if not _is_name(key):
            raise ParseError(f"bad label name {key!r}")
        value, i = _quoted(line, eq + 2)
        out.append((key, value))


def _quoted(line: str, i: int) -> tuple[str, int]:
    chars: list[str] = []
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n:
            nxt = line[i + 1]
            chars.append("\n" if nxt == "n" else nxt)
            i += 2
        elif c == '"':
            return "".join(chars), i + 1
        else:
            chars.append(c)
            i += 1
    raise ParseError(f"unterminated label value: {line!r}")


def _value(text: str) -> float:
    special = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if text in special:
        return special[text]
    try:
        return float(text)
    except ValueError as exc:
        raise ParseError(f"bad value {text!r}") from exc


def _is_name(name: str) -> bool:
    return bool(name) and (name[0].isalpha() or name[0] in "_:") and all(c.isalnum() or c in "_:" for c in name)
