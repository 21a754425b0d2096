"""Label and field selectors with the syntax and semantics of the real API server.

Labels: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
Fields: https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_SET_OP = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQ_OP = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


class SelectorError(ValueError):
    """The selector does not parse; the server answers 400 BadRequest with this message."""


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside an `in (...)` value set."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _check_key(key: str, req: str) -> None:
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise SelectorError(f"unable to parse requirement: invalid label key \"{key}\" in \"{req}\"")


def _check_value(value: str, req: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise SelectorError(f"unable to parse requirement: invalid label value \"{value}\" in \"{req}\"")


def _label_requirement(req: str) -> Callable[[Mapping[str, str]], bool]:
    if req.startswith("!"):
        key = req[1:].strip()
        _check_key(key, req)
        return lambda labels: key not in labels
    m = _SET_OP.match(req)
    if m:
        key, op = m["key"], m["op"]
        _check_key(key, req)
        values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
        for v in values:
            _check_value(v, req)
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    m = _EQ_OP.match(req)
    if m:
        key, op, value = m["key"], m["op"], m["value"]
        _check_key(key, req)
        _check_value(value, req)
        if op == "!=":
            # `!=` matches objects without the label too, as the real server does.
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    _check_key(req, req)
    return lambda labels: req in labels


def parse_label_selector(text: str | None) -> Predicate:
    reqs = [_label_requirement(r) for r in _split_top_level(text or "")]

    def match(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)
    return match


def field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, Mapping) else None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


def parse_field_selector(text: str | None, supported: frozenset[str]) -> Predicate:
    terms: list[tuple[str, bool, str]] = []
    for term in (t.strip() for t in (text or "").split(",")):
        if not term:
            continue
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", term)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        terms.append((field, op != "!=", value))

    def match(obj: Mapping[str, Any]) -> bool:
        return all((field_value(obj, f) == v) == eq for f, eq, v in terms)
    return match
