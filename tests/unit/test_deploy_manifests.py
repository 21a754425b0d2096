"""deploy/: the manifests agree with each other and with the kinds meshpilot watches and validates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pilot.model.kinds import KINDS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def documents() -> Iterator[dict[str, Any]]:
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            yield from (d for d in yaml.safe_load_all(path.read_text()) if d)


@pytest.fixture(scope="module")
def by_kind() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in documents():
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name")
        out.setdefault(doc["kind"], []).append(doc)
    return out


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}


def test_cluster_role_grants_get_list_watch_on_every_watched_kind(by_kind: dict[str, list[Any]]) -> None:
    (role,) = by_kind["ClusterRole"]
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}
    for info in KINDS.values():
        for verb in ("get", "list", "watch"):
            assert (info.group, info.plural, verb) in granted, (info.kind, verb)
    writes = {(g, r, v) for g, r, v in granted if v not in ("get", "list", "watch")}
    # The only writes: the Lease leader's analysis messages into the status of Istio kinds, and the status
    # of Knative objects, which meshpilot reports on (docs/knative.md).
    istio = {(i.group, f"{i.plural}/status", "patch") for i in KINDS.values() if i.group.endswith("istio.io")}
    knative = {("serving.knative.dev", f"{r}/status", v) for r in ("services", "configurations", "routes")
               for v in ("patch", "update")}
    assert writes == istio | knative


def test_leader_election_role_covers_the_lease(by_kind: dict[str, list[Any]]) -> None:
    (role,) = by_kind["Role"]
    (binding,) = by_kind["RoleBinding"]
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}
    assert granted == {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == "meshpilot"


def test_binding_service_and_deployment_fit_together(by_kind: dict[str, list[Any]]) -> None:
    (binding,), (sa,), (deploy,), (svc,) = (by_kind[k] for k in (
        "ClusterRoleBinding", "ServiceAccount", "Deployment", "Service"))
    assert binding["roleRef"]["name"] == by_kind["ClusterRole"][0]["metadata"]["name"]
    assert binding["subjects"][0]["name"] == sa["metadata"]["name"]
    assert binding["subjects"][0]["namespace"] == sa["metadata"]["namespace"]
    pod = deploy["spec"]["template"]
    assert pod["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    container_ports = {p["containerPort"] for c in pod["spec"]["containers"] for p in c["ports"]}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= container_ports


def test_webhook_targets_the_service_and_exactly_the_custom_kinds(by_kind: dict[str, list[Any]]) -> None:
    (config,), (svc,) = by_kind["ValidatingWebhookConfiguration"], by_kind["Service"]
    (hook,) = config["webhooks"]
    ref = hook["clientConfig"]["service"]
    assert (ref["name"], ref["namespace"]) == (svc["metadata"]["name"], svc["metadata"]["namespace"])
    assert ref["port"] in {p["port"] for p in svc["spec"]["ports"]} and ref["path"] == "/validate"
    assert hook["admissionReviewVersions"] == ["v1"] and hook["sideEffects"] == "None"
    routed = {(g, v, r) for rule in hook["rules"] for g in rule["apiGroups"] for v in rule["apiVersions"]
              for r in rule["resources"]}
    # Knative's kinds are left to Knative's own webhook.
    expected = {(i.group, v, i.plural) for i in KINDS.values()
                if i.group not in ("", "discovery.k8s.io", "serving.knative.dev") for v in i.versions}
    # Every combination routed is one meshpilot understands (else the webhook would deny it).
    assert {(g, r) for g, _, r in routed} == {(g, r) for g, _, r in expected}
    assert all(v in group_versions(g) for g, v, _ in routed)


def group_versions(group: str) -> set[str]:
    return {v for i in KINDS.values() if i.group == group for v in i.versions}


def test_deployment_args_are_accepted_by_pilot_serve() -> None:
    from pilot.cli import build_parser

    docs = [d for f in sorted((Path(__file__).resolve().parents[2] / "deploy").glob("*.yaml"))
            for d in yaml.safe_load_all(f.read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = build_parser().parse_args(container["args"])
    assert args.kube and args.webhook_address.endswith(":15017") and args.webhook_cert_dir
