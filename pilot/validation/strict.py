"""Strict field validation: every field of a document must be one its kind's schema names, with a value
of the right type, as the API server checks with `kubectl apply --validate=strict`
(https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation).

A misspelled field is not harmless: `wieght: 50` in a route would otherwise be dropped and the route
would take all the traffic. Findings read `spec.http[0].route[0].wieght: unknown field (did you mean
"weight"?)`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pilot.validation.node import Report
from pilot.validation.schema import Shape, shape_for

ADMITTED_PREFIX = "k8s://"
"""Origins of objects an API server has already admitted against its own (possibly newer) schema."""

# The widest integers Istio's API (int32, uint32) and Envoy's (UInt32Value) take; a bigger one would not
# fit the proto field translation writes it into. Kubernetes' own int64 fields live in metadata/status.
INT_MIN, INT_MAX = -(2**31), 2**32 - 1
_WIDE_INTEGER_ROOTS = ("metadata.", "status")

_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "int-or-string": "an integer or a string"}


def check_document_fields(report: Report, body: Mapping[str, Any], skip: set[str]) -> None:
    """Report unknown fields and mistyped values in `body`. Type findings are left out at paths in
    `skip` (the kind's validator has already said what is wrong there)."""
    res = report.resource
    shape = shape_for(res.group, res.version, res.kind)
    if shape is None:
        return
    _Walker(report, skip, admitted=res.origin.path.startswith(ADMITTED_PREFIX)).walk(shape, body, "")


class _Walker:
    def __init__(self, report: Report, skip: set[str], *, admitted: bool) -> None:
        self.report = report
        self.skip = skip
        # Unknown fields in an object an API server admitted come from a newer schema, not a typo:
        # the server already refused or pruned typos. Report them one level softer.
        self.admitted = admitted

    def walk(self, shape: Shape, value: Any, path: str) -> None:
        if value is None or shape.kind == "any":
            return
        if shape.kind == "object":
            self._object(shape, value, path)
        elif shape.kind == "map":
            self._map(shape, value, path)
        elif shape.kind == "list":
            self._list(shape, value, path)
        elif not _scalar_fits(shape.kind, value):
            self._type(path, f"must be {_TYPE_NAMES[shape.kind]}, got {value!r}")
        elif isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX \
                and not path.startswith(_WIDE_INTEGER_ROOTS):
            self._type(path, f"{value} is out of range: must be between {INT_MIN} and {INT_MAX}")

    def _map(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            self._type(path, "must be an object")
            return
        assert shape.value is not None
        for key, item in value.items():
            self.walk(shape.value, item, f"{path}.{key}" if path else str(key))

    def _list(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self._type(path, "must be a list")
            return
        assert shape.value is not None
        for index, item in enumerate(value):
            self.walk(shape.value, item, f"{path}[{index}]")

    def _object(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            self._type(path, "must be an object")
            return
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            field = shape.fields.get(key) if isinstance(key, str) else None
            if field is not None:
                self.walk(field, item, child)
            elif shape.unknown != "allow":
                self._unknown(shape, str(key), child)

    def _unknown(self, shape: Shape, key: str, path: str) -> None:
        close = difflib.get_close_matches(key, list(shape.fields), n=1, cutoff=0.75)
        message = f'unknown field (did you mean "{close[0]}"?)' if close else "unknown field"
        strict = shape.unknown == "error"
        if strict and not self.admitted:
            self.report.error(path, message)
        elif strict or not self.admitted:
            self.report.warning(path, message)

    def _type(self, path: str, message: str) -> None:
        if path not in self.skip:
            self.report.type_error(path, message)


def _scalar_fits(kind: str, value: Any) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "int-or-string":
        return isinstance(value, int | str)
    return False
