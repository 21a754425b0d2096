"""Analysis messages written back to the Istio objects they are about, as istiod's in-cluster analysis does.

istiod (`pkg/config/analysis/incluster/controller.go`, leader-elected) replaces `status.validationMessages`
of every Istio object it has messages for with Istio's `AnalysisMessageBase` shape
(istio/api analysis/v1alpha1/message.proto, meta/v1alpha1/status.proto `IstioStatus`):

    status:
      observedGeneration: "3"        # int64: a string in protobuf JSON
      validationMessages:
      - documentationUrl: https://istio.io/latest/docs/reference/config/analysis/ist0101/
        level: ERROR
        type: {code: IST0101}

Only `*.istio.io` objects get status, an object whose messages went away gets an empty list, and an object
that never had any is not written. Writes are merge patches of the `status` subresource (so `spec` and
`conditions` written by others stay), each made only while `may_write()` (the leader) holds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes import client
from kubernetes.client import ApiClient

from pilot.model.findings import Finding
from pilot.model.kinds import KINDS
from pilot.model.resource import ConfigKey, Resource

log = logging.getLogger(__name__)

DOCS = "https://istio.io/latest/docs/reference/config/analysis"


def message_base(f: Finding) -> dict[str, Any]:
    return {"documentationUrl": f"{DOCS}/{f.code.lower()}/", "level": f.severity.value.upper(),
            "type": {"code": f.code}}


def desired_status(resource: Resource, findings: Iterable[Finding]) -> dict[str, Any] | None:
    """The status patch for `resource`, or None when what it has is already right."""
    wanted = [json.loads(m) for m in sorted({json.dumps(message_base(f), sort_keys=True) for f in findings})]
    current = resource.status.get("validationMessages") or []
    generation = str((resource.body.get("metadata") or {}).get("generation") or "")
    if not wanted and not current:
        return None
    if wanted == current and str(resource.status.get("observedGeneration") or "") == generation:
        return None
    out: dict[str, Any] = {"validationMessages": wanted}
    if generation:
        out["observedGeneration"] = generation
    return out


class StatusWriter:
    def __init__(self, api: ApiClient, may_write: Callable[[], bool]) -> None:
        self.objects = client.CustomObjectsApi(api)
        self.may_write = may_write
        self.written = 0

    def write(self, resources: Iterable[Resource], findings: Iterable[Finding]) -> int:
        """Bring every Istio object's `status.validationMessages` in line with `findings`; returns how
        many objects were written."""
        by_key: dict[ConfigKey, list[Finding]] = {}
        for f in findings:
            if f.code.startswith("IST"):
                by_key.setdefault(ConfigKey(f.kind, f.namespace, f.name), []).append(f)
        count = 0
        for r in resources:
            if not r.group.endswith("istio.io") or not r.origin.path.startswith("k8s://"):
                continue
            patch = desired_status(r, by_key.get(r.key, []))
            if patch is None:
                continue
            if not self.may_write():
                return count  # leadership lost: the new leader writes from here on
            if self._patch(r, patch):
                count += 1
                self.written += 1
        return count

    def _patch(self, r: Resource, status: dict[str, Any]) -> bool:
        plural = _plural(r)
        try:
            self.objects.patch_namespaced_custom_object_status(
                r.group, r.version, r.namespace, plural, r.name, {"status": status})
        except Exception as e:  # gone meanwhile, forbidden, ...: the next round tries again
            log.info("writing status of %s failed: %s", r, getattr(e, "reason", e))
            return False
        return True


def _plural(r: Resource) -> str:
    info = KINDS.get(r.kind)
    return info.plural if info is not None else r.kind.lower() + "s"
