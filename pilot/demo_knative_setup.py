"""What `pilot demo --knative` runs: the bundled Knative example (policies/knative) read into a layout,
and copied to the demo's temp dir at its first revision, so that the edits the demo makes are its own.

The example has a Knative Service whose template is the new revision (hello-00002), a traffic target
pinned to the old one with a tag (hello-00001, tag v1), a Pod per revision (its address) and a client pod
with a sidecar. The copy starts where the example's history began: the template is the old revision's
(from its Revision object), 100 % to the latest revision, the tag kept at 0 % so the old revision keeps
its own URL. The revision Pods are left out: the demo's kubelet writes them when it starts an app
(pilot/testing/knative_lab.py), and removes them when the deactivation hook stops it.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pilot.demo_startup import DemoError
from pilot.knative.spec import ROLLOUT_ANNOTATION
from pilot.model.revisions import REVISION_LABEL
from pilot.testing.knative_lab import LabRevision
from pilot.testing.mesh import PodSpec
from pilot.testing.runner import REPO_ROOT

Doc = dict[str, Any]


def bundled_knative() -> Path:
    path = REPO_ROOT / "policies" / "knative"
    if not path.is_dir():
        raise DemoError(f"bundled Knative example not found at {path}; pass --config DIR")
    return path


def _is_knative(doc: Doc, kind: str) -> bool:
    return doc.get("kind") == kind and str(doc.get("apiVersion", "")).startswith("serving.knative.dev/")


def _revision_pod(doc: Doc) -> bool:
    return doc.get("kind") == "Pod" and REVISION_LABEL in ((doc.get("metadata") or {}).get("labels") or {})


@dataclass(frozen=True)
class KnativeLayout:
    service: Doc  # the example's Knative Service: its template is the new revision
    service_file: str
    old: LabRevision  # the revision traffic starts on (the example's tagged one)
    new: LabRevision  # the one the demo's edit creates
    tag: str
    old_spec: Doc  # the old revision's pod spec (from its Revision object)
    client: PodSpec

    @property
    def namespace(self) -> str:
        return self.old.namespace

    @property
    def host(self) -> str:
        return f"{self.service['metadata']['name']}.{self.namespace}.svc.cluster.local"

    @property
    def tag_host(self) -> str:
        return f"{self.tag}-{self.host}"

    def first_service(self) -> Doc:
        """The Service at its first revision: all traffic on it, the tag pinned to it at 0 %."""
        doc = copy.deepcopy(self.service)
        doc["spec"]["template"] = {"metadata": {"name": self.old.name}, "spec": copy.deepcopy(self.old_spec)}
        doc["spec"]["traffic"] = [{"revisionName": self.old.name, "percent": 0, "tag": self.tag},
                                  {"latestRevision": True, "percent": 100}]
        return doc

    def rollout_service(self, seconds: int) -> Doc:
        """The edit: the example's template (the new revision), moved to gradually over `seconds`."""
        doc = self.first_service()
        doc["spec"]["template"] = copy.deepcopy(self.service["spec"]["template"])
        if seconds > 0:
            doc["metadata"].setdefault("annotations", {})[ROLLOUT_ANNOTATION] = f"{seconds}s"
        return doc


def _load(src: Path) -> dict[str, list[Doc]]:
    out = {}
    for path in sorted([*src.glob("*.yaml"), *src.glob("*.yml")]):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError) as exc:
            raise DemoError(f"{path}: cannot read it as YAML ({type(exc).__name__})") from None
        out[path.name] = [d for d in docs if isinstance(d, dict)]
    return out


def read_layout(src: Path) -> KnativeLayout:
    files = _load(src)
    docs = [d for ds in files.values() for d in ds]
    services = [(name, d) for name, ds in files.items() for d in ds if _is_knative(d, "Service")]
    if len(services) != 1:
        raise DemoError(f"{src}: needs exactly one Knative Service (serving.knative.dev/v1), found {len(services)}")
    service_file, service = services[0]
    ns = (service.get("metadata") or {}).get("namespace") or "default"
    spec = service.get("spec") or {}
    new_name = ((spec.get("template") or {}).get("metadata") or {}).get("name")
    pinned = [t for t in spec.get("traffic") or [] if t.get("revisionName") and t.get("tag")]
    if not new_name or not pinned:
        raise DemoError(f"{src}: the Knative Service needs a named template (the new revision) and a tagged "
                        "traffic target pinned to the old revision, as in policies/knative")
    old_name, tag = pinned[0]["revisionName"], pinned[0]["tag"]
    pods = {d["metadata"]["labels"][REVISION_LABEL]: d for d in docs if _revision_pod(d)}
    revisions = {}
    for name in (old_name, new_name):
        ip = ((pods.get(name) or {}).get("status") or {}).get("podIP")
        if not ip:
            raise DemoError(f"{src}: no Pod labelled {REVISION_LABEL}: {name} with a podIP (its address)")
        revisions[name] = LabRevision(service["metadata"]["name"], name, str(ip), ns)
    old_object = next((d for d in docs if _is_knative(d, "Revision") and d["metadata"].get("name") == old_name), {})
    old_spec = old_object.get("spec") or spec["template"].get("spec") or {}
    return KnativeLayout(service, service_file, revisions[old_name], revisions[new_name], tag, old_spec,
                         _client(src, docs))


def _client(src: Path, docs: list[Doc]) -> PodSpec:
    """The pod that sends the traffic: the example's one Pod that is not a revision's, laid out on loopback
    like every demo pod (shared/design/loopback-mesh.md: egress bind and admin one and two blocks up)."""
    for d in docs:
        if d.get("kind") != "Pod" or _revision_pod(d):
            continue
        meta, labels = d.get("metadata") or {}, (d.get("metadata") or {}).get("labels") or {}
        octets = str((d.get("status") or {}).get("podIP", "")).split(".")
        if len(octets) == 4 and all(o.isdigit() for o in octets) and labels.get("app"):
            a, b, c, n = map(int, octets)
            pod = PodSpec(labels["app"], labels.get("version", "v1"), n, (a, b, c), meta.get("namespace") or "default",
                          service_account=(d.get("spec") or {}).get("serviceAccountName") or "")
            if pod.name == meta.get("name"):
                return pod
    raise DemoError(f"{src}: no client Pod (app/version labels, named APP-VERSION-0, with a podIP)")


def copy_for_demo(src: Path, dst: Path, layout: KnativeLayout) -> None:
    """The example in `dst`, at its first revision, without the revision Pods and Revision objects."""
    dst.mkdir(parents=True, exist_ok=True)
    for name, docs in _load(src).items():
        kept = [layout.first_service() if _is_knative(d, "Service") else d for d in docs
                if not (_revision_pod(d) or _is_knative(d, "Revision"))]
        if len(kept) == len(docs) and name != layout.service_file:
            shutil.copyfile(src / name, dst / name)
        else:
            write_atomically(dst / name, yaml.safe_dump_all(kept, sort_keys=False))


def write_atomically(path: Path, text: str) -> None:
    """The config watcher must never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
