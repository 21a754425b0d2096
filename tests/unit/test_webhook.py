"""AdmissionReview v1 handling: valid objects are allowed, invalid ones denied with field messages."""

from __future__ import annotations

from typing import Any

import pytest

from pilot.model.findings import Finding, Severity
from pilot.model.resource import Resource
from pilot.webhook import BadReview, handle, review


def fake_validator(res: Resource) -> list[Finding]:
    """A stand-in for pilot.validation: a few VirtualService rules with field paths."""
    out: list[Finding] = []
    if res.kind != "VirtualService":
        return out
    if not res.spec.get("hosts"):
        out.append(Finding.about(res, "spec.hosts", "at least one host is required"))
    for i, http in enumerate(res.spec.get("http") or []):
        total = sum(int(r.get("weight", 0)) for r in http.get("route") or [])
        if total != 100:
            out.append(Finding.about(res, f"spec.http[{i}].route", f"weights sum to {total}, not 100"))
    if res.spec.get("gateways") == []:
        out.append(Finding.about(res, "spec.gateways", "empty list means mesh only",
                                 severity=Severity.WARNING))
    return out


def admission_review(obj: dict[str, Any], operation: str = "CREATE",
                     uid: str = "705ab4f5-6393-11e8") -> dict[str, Any]:
    """What the API server POSTs (admission.k8s.io/v1), trimmed to the fields that matter."""
    api_version = obj["apiVersion"]
    group, _, version = api_version.rpartition("/")
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "resource": {"group": group, "version": version, "resource": obj["kind"].lower() + "s"},
        "name": obj["metadata"].get("name", ""), "namespace": "bookinfo", "operation": operation,
        "userInfo": {"username": "admin"}, "object": obj, "oldObject": None, "dryRun": False}}


def vs(weights: tuple[int, ...] = (80, 20), hosts: tuple[str, ...] = ("reviews",),
       **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews"},  # no namespace: the request's namespace applies
            "spec": {"hosts": list(hosts), **spec, "http": [{"route": [
                {"destination": {"host": "reviews", "subset": f"v{i}"}, "weight": w}
                for i, w in enumerate(weights)]}]}}


def test_valid_resource_is_allowed_with_the_request_uid() -> None:
    out = review(admission_review(vs()), fake_validator)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"] == {"uid": "705ab4f5-6393-11e8", "allowed": True}


def test_invalid_resource_is_denied_with_field_level_messages() -> None:
    out = review(admission_review(vs(weights=(80, 10), hosts=())), fake_validator)["response"]
    assert out["allowed"] is False
    status = out["status"]
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        "configuration is invalid: VirtualService bookinfo/reviews: spec.hosts: at least one host is "
        "required; VirtualService bookinfo/reviews: spec.http[0].route: weights sum to 90, not 100")
    assert status["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "field": "spec.hosts", "message": "at least one host is required"},
        {"reason": "FieldValueInvalid", "field": "spec.http[0].route",
         "message": "weights sum to 90, not 100"},
    ]


def test_warnings_do_not_deny_but_are_returned() -> None:
    out = review(admission_review(vs(gateways=[])), fake_validator)["response"]
    assert out["allowed"] is True
    assert out["warnings"] == [
        "VirtualService bookinfo/reviews: spec.gateways: warning: empty list means mesh only"]


def test_update_is_validated_and_delete_is_always_allowed() -> None:
    bad = vs(weights=(50,))
    assert review(admission_review(bad, "UPDATE"), fake_validator)["response"]["allowed"] is False
    deleted = admission_review(bad, "DELETE")
    deleted["request"]["object"] = None
    assert review(deleted, fake_validator)["response"]["allowed"] is True


def test_unrecognized_kind_or_version_is_denied() -> None:
    obj = {**vs(), "apiVersion": "networking.istio.io/v9"}
    out = review(admission_review(obj), fake_validator)["response"]
    assert out["allowed"] is False
    assert "unrecognized type networking.istio.io/v9/VirtualService" in out["status"]["message"]


def test_validator_crash_denies_with_internal_error() -> None:
    def broken(res: Resource) -> list[Finding]:
        raise RuntimeError("boom")
    out = review(admission_review(vs()), broken)["response"]
    assert out["allowed"] is False and out["status"]["code"] == 500


@pytest.mark.parametrize("body", [
    {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}},
    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}},
])
def test_malformed_reviews_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(BadReview):
        review(body, fake_validator)


def test_http_level_handling_of_garbage() -> None:
    assert handle(b"not json", fake_validator)[0] == 400
    assert handle(b"[1, 2]", fake_validator)[0] == 400
    code, payload = handle(b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", '
                           b'"request": {"uid": "u", "operation": "DELETE"}}', fake_validator)
    assert code == 200 and payload["response"] == {"uid": "u", "allowed": True}


def test_real_validation_messages_match_pilot_validate(tmp_path: Any) -> None:
    """The webhook answers with the very messages `pilot validate` prints (after FILE:LINE)."""
    from pilot.sources.yaml_files import load_paths
    from pilot.validation import validate_document, validate_resource

    bad = vs(weights=(100,))
    bad["spec"]["http"][0]["match"] = [{"uri": {"regex": "/(unclosed"}}]
    bad["spec"]["http"][0]["timeout"] = "soon"
    answer = review(admission_review(bad), validate_resource)["response"]
    assert answer["allowed"] is False
    fields = {c["field"] for c in answer["status"]["details"]["causes"]}
    assert {"spec.http[0].match[0].uri.regex", "spec.http[0].timeout"} <= fields
    import yaml

    f = tmp_path / "vs.yaml"
    f.write_text(yaml.safe_dump({**bad, "metadata": {"name": "reviews", "namespace": "bookinfo"}}))
    resources, _, _ = load_paths([f], validate_document)
    lines = [x.line().split(": ", 1)[1] for x in validate_resource(resources[0])]
    for line in lines:
        assert line in answer["status"]["message"], (line, answer["status"]["message"])
    good = review(admission_review(vs(weights=(80, 20))), validate_resource)["response"]
    assert good["allowed"] is True
