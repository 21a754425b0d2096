"""Shared input for the analyzer tables: a small Bookinfo-like mesh and a YAML -> findings helper."""

from __future__ import annotations

from pilot.analysis import analyze_resources
from pilot.model.findings import Finding
from pilot.sources.memory import resources_from_yaml

MESH = """
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-0, namespace: default, labels: {app: reviews, version: v1}}
spec: {serviceAccountName: bookinfo-reviews, containers: [{name: app, image: none, ports: [{containerPort: 9080}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2-0, namespace: default, labels: {app: reviews, version: v2}}
spec: {serviceAccountName: bookinfo-reviews, containers: [{name: app, image: none}]}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"""


def findings(extra: str, base: str = MESH) -> list[Finding]:
    return analyze_resources(resources_from_yaml(base + "\n---\n" + extra))


def codes(extra: str, base: str = MESH) -> list[tuple[str, str]]:
    """(code, "Kind namespace/name") of every finding, sorted."""
    return sorted((f.code, f"{f.kind} {f.namespace}/{f.name}") for f in findings(extra, base))


def vs(name: str, body: str, hosts: str = "[reviews]", namespace: str = "default", extra: str = "") -> str:
    """A VirtualService; `body` is its route section(s), e.g. `http: [...]`."""
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  hosts: {hosts}{extra}
  {body}
"""
