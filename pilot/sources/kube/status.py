"""Writing an object's status subresource back to the API server (Knative objects' status, which
Knative's own controllers write when they run: meshpilot writes it when it does their job).

A JSON merge patch of `status` (RFC 7386), with the keys the object has and the new status lacks set to
null so that the result is exactly the new status.
https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client import ApiClient, ApiException

from pilot.model.kinds import kind_info

log = logging.getLogger(__name__)
MERGE_PATCH = "application/merge-patch+json"


def status_patch(current: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": {**{k: None for k in current if k not in status}, **status}}


class StatusWriter:
    def __init__(self, api: ApiClient) -> None:
        self.objects = client.CustomObjectsApi(api)

    def write(self, kind: str, api_version: str, namespace: str, name: str, current: Mapping[str, Any],
              status: Mapping[str, Any]) -> bool:
        """Patch the status; False (logged) when the server refuses or cannot be reached."""
        info = kind_info(kind)
        if info is None or "/" not in api_version:
            return False
        group, version = api_version.rsplit("/", 1)
        try:
            self.objects.patch_namespaced_custom_object_status(
                group, version, namespace, info.plural, name, status_patch(current, status),
                _content_type=MERGE_PATCH, _request_timeout=(5, 10))
            return True
        except ApiException as e:
            if e.status != 404:  # deleted meanwhile: nothing to report on
                log.warning("writing status of %s %s/%s failed: HTTP %s %s", kind, namespace, name, e.status,
                            e.reason)
        except Exception as e:  # connection refused or reset: the next change writes it again
            log.warning("writing status of %s %s/%s failed: %s", kind, namespace, name, e)
        return False
