"""PeerAuthentication precedence (workload > namespace > mesh, oldest wins, UNSET inherits, port level)."""

from __future__ import annotations

from typing import Any

import pytest

from pilot.model.authn import (
    DISABLE,
    PERMISSIVE,
    STRICT,
    authorization_policies_for,
    effective_mtls_mode,
    namespace_mtls_mode,
    service_identities,
    workload_mtls_mode,
)
from pilot.model.mesh import MeshConfig
from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource, resource_from_document
from pilot.model.snapshot import MeshSnapshot, build_snapshot

VIEW = ProxyView(
    type="sidecar",
    ip="127.10.0.5",
    name="reviews-v1-0",
    namespace="default",
    labels=(("app", "reviews"), ("version", "v1")),
    service_account="reviews",
)


def pa(
    name: str,
    ns: str,
    mode: str | None = None,
    selector: dict[str, str] | None = None,
    ports: dict[Any, str | None] | None = None,
    created: str = "2024-01-01T00:00:00Z",
) -> Resource:
    spec: dict[str, Any] = {}
    if mode is not None:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {k: ({"mode": v} if v else {}) for k, v in ports.items()}
    return resource_from_document(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": created},
            "spec": spec,
        }
    )


def snap(*resources: Resource) -> MeshSnapshot:
    return build_snapshot(resources, MeshConfig(root_namespace="istio-system", trust_domain="example.org"))


MESH_STRICT = pa("mesh", "istio-system", STRICT)
NS_PERMISSIVE = pa("ns", "default", PERMISSIVE)
NS_DISABLE = pa("ns-d", "default", DISABLE)
WL_DISABLE = pa("wl", "default", DISABLE, {"app": "reviews"})
WL_UNSET_PORT = pa("wl-port", "default", None, {"app": "reviews"}, {8080: DISABLE, 9090: None})
OTHER_WL = pa("other", "default", DISABLE, {"app": "ratings"})
OTHER_NS = pa("foreign", "prod", DISABLE)
ROOT_SELECTOR = pa("root-sel", "istio-system", DISABLE, {"app": "reviews"})


@pytest.mark.parametrize(
    ("resources", "port", "expected"),
    [
        ((), 9080, PERMISSIVE),  # no policy at all
        ((MESH_STRICT,), 9080, STRICT),  # mesh policy
        ((MESH_STRICT, NS_PERMISSIVE), 9080, PERMISSIVE),  # namespace beats mesh
        ((MESH_STRICT, NS_PERMISSIVE, WL_DISABLE), 9080, DISABLE),  # workload beats namespace
        ((MESH_STRICT, pa("ns-unset", "default")), 9080, STRICT),  # namespace UNSET inherits mesh
        ((NS_DISABLE, pa("wl-unset", "default", None, {"app": "reviews"})), 9080, DISABLE),
        ((MESH_STRICT, OTHER_WL), 9080, STRICT),  # selector not matching
        ((MESH_STRICT, OTHER_NS), 9080, STRICT),  # another namespace's policy
        ((MESH_STRICT, ROOT_SELECTOR), 9080, STRICT),  # selector policies in root ns are ignored
        ((pa("mesh-unset", "istio-system"),), 9080, PERMISSIVE),  # mesh UNSET is PERMISSIVE
        ((MESH_STRICT, WL_UNSET_PORT), 8080, DISABLE),  # port level on the target port
        ((MESH_STRICT, WL_UNSET_PORT), 9090, STRICT),  # port level UNSET inherits workload mode
        ((MESH_STRICT, WL_UNSET_PORT), 9080, STRICT),  # other ports keep the workload mode
    ],
)
def test_precedence(resources: tuple[Resource, ...], port: int, expected: str) -> None:
    assert effective_mtls_mode(snap(*resources), VIEW, port) == expected


def test_oldest_wins_within_a_scope_whatever_the_input_order() -> None:
    newer = pa("b-newer", "default", DISABLE, created="2024-02-01T00:00:00Z")
    older = pa("z-older", "default", STRICT, created="2023-01-01T00:00:00Z")
    assert effective_mtls_mode(snap(newer, older), VIEW, 9080) == STRICT
    assert effective_mtls_mode(snap(older, newer), VIEW, 9080) == STRICT
    wl_new = pa("a-wl", "default", PERMISSIVE, {"app": "reviews"}, created="2024-03-01T00:00:00Z")
    wl_old = pa("z-wl", "default", DISABLE, {"version": "v1"}, created="2024-01-15T00:00:00Z")
    assert effective_mtls_mode(snap(wl_new, wl_old), VIEW, 9080) == DISABLE


def test_namespace_mode() -> None:
    s = snap(MESH_STRICT, NS_DISABLE, WL_DISABLE)
    assert namespace_mtls_mode(s, "default") == DISABLE
    assert namespace_mtls_mode(s, "prod") == STRICT


# ---- client side: auto-mTLS decisions --------------------------------------------------------------
def service_docs(tls_label: str | None = None) -> list[Resource]:
    labels = {"app": "reviews"}
    if tls_label:
        labels["security.istio.io/tlsMode"] = tls_label
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "reviews", "namespace": "default"},
            "spec": {
                "selector": {"app": "reviews"},
                "ports": [{"name": "http", "port": 9080, "targetPort": 8080}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "reviews-0", "namespace": "default", "labels": labels},
            "spec": {"serviceAccountName": "reviews"},
            "status": {"podIP": "127.10.0.5"},
        },
    ]
    return [resource_from_document(d) for d in docs]


HOST = "reviews.default.svc.cluster.local"


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        ((), PERMISSIVE),
        ((MESH_STRICT,), STRICT),
        ((NS_DISABLE,), DISABLE),
        (
            (MESH_STRICT, WL_DISABLE),
            DISABLE,
        ),  # workload-level DISABLE honoured (beyond Istio's namespace view)
        (
            (MESH_STRICT, pa("p", "default", None, {"app": "reviews"}, {8080: DISABLE})),
            DISABLE,
        ),  # target port
        ((NS_DISABLE, pa("p", "default", None, {"app": "reviews"}, {9999: STRICT})), DISABLE),
    ],
)
def test_workload_mtls_mode(policies: tuple[Resource, ...], expected: str) -> None:
    assert workload_mtls_mode(snap(*service_docs(), *policies), HOST, 9080) == expected


def test_unmeshed_endpoints_fall_back_to_the_namespace_mode_and_unknown_hosts_are_plaintext() -> None:
    s = snap(*service_docs(tls_label="disabled"), MESH_STRICT, WL_DISABLE)
    assert workload_mtls_mode(s, HOST, 9080) == STRICT
    assert workload_mtls_mode(s, "nope.default.svc.cluster.local", 80) == DISABLE


def test_service_identities_use_the_mesh_trust_domain() -> None:
    s = snap(*service_docs())
    assert service_identities(s, HOST, 9080) == ["spiffe://example.org/ns/default/sa/reviews"]


# ---- AuthorizationPolicy selection ----------------------------------------------------------------
def ap(
    name: str, ns: str, action: str | None = None, selector: dict[str, str] | None = None, **extra: Any
) -> Resource:
    spec: dict[str, Any] = dict(extra)
    if action:
        spec["action"] = action
    if selector:
        spec["selector"] = {"matchLabels": selector}
    return resource_from_document(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }
    )


def test_authorization_policies_for_selects_root_and_own_namespace() -> None:
    s = snap(
        ap("ns-wide", "default"),
        ap("mesh-deny", "istio-system", "DENY"),
        ap("root-selected", "istio-system", "AUDIT", {"app": "reviews"}),
        ap("root-other", "istio-system", "AUDIT", {"app": "ratings"}),
        ap("other-ns", "prod", "DENY"),
        ap("mine", "default", "DENY", {"version": "v1"}),
        ap("not-mine", "default", "DENY", {"version": "v2"}),
        ap("waypoint", "default", "DENY", targetRefs=[{"kind": "Service", "name": "reviews"}]),
        ap("ext", "default", "CUSTOM", provider={"name": "opa"}),
    )
    got = {k: [r.name for r in v] for k, v in authorization_policies_for(s, VIEW).items()}
    assert got == {
        "ALLOW": ["ns-wide"],
        "DENY": ["mine", "mesh-deny"],
        "AUDIT": ["root-selected"],
        "CUSTOM": ["ext"],
    }


def test_port_level_keys_may_be_strings_as_in_json_from_the_api_server() -> None:
    policy = pa("wl-json", "default", STRICT, {"app": "reviews"}, {"8080": DISABLE, "9090": None})
    s = snap(policy)
    assert effective_mtls_mode(s, VIEW, 8080) == DISABLE
    assert effective_mtls_mode(s, VIEW, 9090) == STRICT
