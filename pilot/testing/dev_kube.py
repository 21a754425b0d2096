"""`pilot dev kube-apiserver` and `pilot dev apply`: try `pilot serve --kube` on one machine.

The test kit's API server (pilot.testing.kube_apiserver) speaks the real REST list/watch protocol over
HTTPS with a bearer token, so the official client and `pilot serve --kube` use it as they would a
cluster. `apply` creates or replaces objects through that REST API (no kubectl needed); Pods keep the
`status.podIP` they are given, since nothing else would assign one.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pilot.model.kinds import KINDS
from pilot.sources.yaml_files import load_text, yaml_files

DEFAULT_KUBECONFIG = "meshpilot-dev.kubeconfig"


class DevKubeError(Exception):
    """Reported as one line."""


def read_documents(paths: Iterable[str]) -> list[dict[str, Any]]:
    """Every document of a kind meshpilot serves, in file order; a bad path or YAML is an error."""
    docs: list[dict[str, Any]] = []
    for p in paths:
        if not Path(p).exists():
            raise DevKubeError(f"no such file or directory: {p}")
    for f in yaml_files(paths):
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DevKubeError(f"{f}: cannot read: {exc}") from exc
        parsed, problems = load_text(text, str(f))
        if problems:
            raise DevKubeError(problems[0].line())
        for doc, origin in parsed:
            if not isinstance(doc, dict) or str(doc.get("kind")) not in KINDS:
                kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
                print(f"{origin.path}:{origin.line}: skipped: kind {kind} is not served", file=sys.stderr)
                continue
            docs.append(doc)
    return docs


def run_kube_apiserver(host: str, port: int, kubeconfig_out: str, load: list[str]) -> int:
    from pilot.testing.kube_apiserver import FakeKubeApiServer

    docs = read_documents(load)
    try:
        api = FakeKubeApiServer(host=host, port=port)
    except OSError as exc:
        raise DevKubeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with api:
        for ns in sorted({str((d.get("metadata") or {}).get("namespace") or "default") for d in docs}):
            api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for doc in docs:
            api.apply(doc)
        try:
            api.write_kubeconfig(Path(kubeconfig_out))
        except OSError as exc:
            raise DevKubeError(f"cannot write {kubeconfig_out}: {exc.strerror or exc}") from exc
        print(f"kube-apiserver on {api.url} ({len(docs)} objects loaded); kubeconfig: {kubeconfig_out}",
              flush=True)
        print(f"  pilot serve --kube --kubeconfig {kubeconfig_out}    # the control plane against it", flush=True)
        print(f"  pilot dev apply --kubeconfig {kubeconfig_out} -f FILE.yaml", flush=True)
        stop.wait()
    return 0


def apply_documents(kubeconfig: str, paths: list[str]) -> int:
    """Create each object, or replace it when it exists (status too, for Pods): like `kubectl apply`."""
    from kubernetes import config

    docs = read_documents(paths)
    if not Path(kubeconfig).exists():
        raise DevKubeError(f"no kubeconfig {kubeconfig} (start `pilot dev kube-apiserver` first)")
    api = config.new_client_from_config(config_file=kubeconfig)
    try:
        for ns in sorted({str((d.get("metadata") or {}).get("namespace") or "default") for d in docs}):
            _create_or_keep(api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": ns}})
        for doc in docs:
            print(f"{doc['kind'].lower()}/{doc['metadata']['name']} {_apply(api, doc)}")
    except _Refused as exc:
        raise DevKubeError(str(exc)) from exc
    except OSError as exc:  # urllib3 connection errors are OSErrors
        raise DevKubeError(f"cannot reach the API server: {exc}") from exc
    return 0


def _collection(doc: dict[str, Any]) -> str:
    info = KINDS[str(doc["kind"])]
    prefix = "/api/v1" if not info.group else f"/apis/{doc['apiVersion']}"
    if info.kind == "Namespace":
        return f"{prefix}/{info.plural}"
    ns = (doc.get("metadata") or {}).get("namespace") or "default"
    return f"{prefix}/namespaces/{ns}/{info.plural}"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"API server answered {status}: {message}")
        self.status = status


def _call(api: Any, method: str, path: str, body: Any = None) -> dict[str, Any]:
    params = api.param_serialize(method=method, resource_path=path, body=body, auth_settings=["BearerToken"],
                                 header_params={"Content-Type": "application/json", "Accept": "application/json"})
    resp = api.call_api(*params)
    data = json.loads(resp.read() or b"{}")
    if resp.status >= 400:
        raise _Refused(resp.status, str(data.get("message") or data))
    return dict(data)


def _create_or_keep(api: Any, collection: str, doc: dict[str, Any]) -> None:
    try:
        _call(api, "POST", collection, doc)
    except _Refused as exc:
        if exc.status != 409:
            raise


def _apply(api: Any, doc: dict[str, Any]) -> str:
    collection = _collection(doc)
    try:
        _call(api, "POST", collection, doc)
        return "created"
    except _Refused as exc:
        if exc.status != 409:
            raise
    path = f"{collection}/{doc['metadata']['name']}"
    current = _call(api, "GET", path)
    meta = {**doc["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}
    replaced = _call(api, "PUT", path, {**doc, "metadata": meta})
    if doc.get("status") and doc["kind"] == "Pod":  # status only changes through its subresource
        _call(api, "PUT", path + "/status", {**replaced, "status": doc["status"]})
    return "configured"
