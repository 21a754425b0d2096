"""A cursor over a parsed YAML document that knows its field path and reports into a Report.

Validators walk `Node`s instead of raw dicts, so every finding carries its dotted path
(`spec.http[0].route[1].weight`) and a wrong type (a string where a list belongs) becomes a
finding instead of a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pilot.model.findings import Finding, Severity
from pilot.model.resource import Resource

CODE_INVALID = "MP0100"
"""An error: the resource would be rejected (Istio's webhook would refuse it, IST0106 in analyze)."""
CODE_WARNING = "MP0101"
"""A warning: accepted, but probably not what the author meant (Istio's IST0133)."""


@dataclass
class Report:
    """Collects the findings about one resource."""

    resource: Resource
    findings: list[Finding] = field(default_factory=list)
    _type_errors: set[str] = field(default_factory=set)

    def error(self, path: str, message: str) -> None:
        self.findings.append(Finding.about(self.resource, path, message, code=CODE_INVALID))

    def warning(self, path: str, message: str) -> None:
        self.findings.append(Finding.about(self.resource, path, message, code=CODE_WARNING,
                                           severity=Severity.WARNING))

    def type_error(self, path: str, message: str) -> None:
        if path not in self._type_errors:
            self._type_errors.add(path)
            self.error(path, message)

    def node(self, path: str, value: Any) -> Node:
        return Node(self, path, value)


@dataclass(frozen=True)
class Node:
    report: Report
    path: str
    value: Any

    @property
    def present(self) -> bool:
        return self.value is not None

    def __getitem__(self, key: str) -> Node:
        child = f"{self.path}.{key}" if self.path else key
        if isinstance(self.value, Mapping):
            return Node(self.report, child, self.value.get(key))
        if self.value is not None:
            self.report.type_error(self.path, "must be an object")
        return Node(self.report, child, None)

    def has(self, key: str) -> bool:
        return isinstance(self.value, Mapping) and self.value.get(key) is not None

    def keys_present(self, *keys: str) -> list[str]:
        return [k for k in keys if self.has(k)]

    def items(self) -> list[Node]:
        """Elements of a list (none if absent; a finding if not a list)."""
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            self.report.type_error(self.path, "must be a list")
            return []
        return [Node(self.report, f"{self.path}[{i}]", v) for i, v in enumerate(self.value)]

    def entries(self) -> list[tuple[str, Node]]:
        """Key/value pairs of a map (none if absent; a finding if not a map)."""
        if self.value is None:
            return []
        if not isinstance(self.value, Mapping):
            self.report.type_error(self.path, "must be an object")
            return []
        return [(str(k), Node(self.report, f"{self.path}.{k}", v)) for k, v in self.value.items()]

    def text(self) -> str | None:
        if self.value is None:
            return None
        if not isinstance(self.value, str):
            self.report.type_error(self.path, f"must be a string, got {self.value!r}")
            return None
        return self.value

    def strings(self) -> list[tuple[Node, str]]:
        """Elements of a list of strings, each with its node; non-strings are reported and skipped."""
        out = []
        for item in self.items():
            value = item.text()
            if value is not None:
                out.append((item, value))
        return out

    def integer(self) -> int | None:
        if self.value is None:
            return None
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.report.type_error(self.path, f"must be an integer, got {self.value!r}")
            return None
        return self.value

    def number(self) -> float | None:
        if self.value is None:
            return None
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            self.report.type_error(self.path, f"must be a number, got {self.value!r}")
            return None
        return float(self.value)

    def flag(self) -> bool | None:
        if self.value is None:
            return None
        if not isinstance(self.value, bool):
            self.report.type_error(self.path, f"must be true or false, got {self.value!r}")
            return None
        return self.value

    def error(self, message: str) -> None:
        self.report.error(self.path, message)

    def warning(self, message: str) -> None:
        self.report.warning(self.path, message)
