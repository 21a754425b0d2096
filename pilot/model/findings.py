"""Errors and findings as data: code, severity, resource, field path, message.

The one-line form is what `pilot validate` prints and what the admission webhook answers:
`FILE:LINE: KIND NAMESPACE/NAME: FIELD.PATH: message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pilot.model.resource import Origin, Resource

# A document of a kind (or API group) meshpilot does not serve: reported as a warning and skipped.
SKIPPED_KIND_CODE = "MP0103"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    kind: str = ""
    namespace: str = ""
    name: str = ""
    field: str = ""
    origin: Origin = Origin()

    @classmethod
    def about(cls, resource: Resource, field: str, message: str, *, code: str = "MP0001",
              severity: Severity = Severity.ERROR) -> Finding:
        return cls(code=code, severity=severity, message=message, kind=resource.kind,
                   namespace=resource.namespace, name=resource.name, field=field, origin=resource.origin)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def resource_ref(self) -> str:
        if not self.kind:
            return ""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def line(self) -> str:
        parts = [str(self.origin)]
        if self.resource_ref:
            parts.append(self.resource_ref)
        if self.field:
            parts.append(self.field)
        parts.append(self.message if self.is_error else f"{self.severity.value}: {self.message}")
        return ": ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "severity": self.severity.value, "message": self.message,
                "kind": self.kind, "namespace": self.namespace, "name": self.name, "field": self.field,
                "file": self.origin.path, "line": self.origin.line}

    def __str__(self) -> str:
        return self.line()
