import pytest

from pilot.ca.identity import InvalidSpiffeId, parse_spiffe_id, spiffe_id


def test_spiffe_id_has_istio_shape_and_round_trips():
    uri = spiffe_id("cluster.local", "default", "bookinfo-reviews")
    assert uri == "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
    assert parse_spiffe_id(uri) == ("cluster.local", "default", "bookinfo-reviews")


def test_trust_domain_at_sign_is_sanitised_like_istio():
    assert spiffe_id("corp@example", "ns1", "sa1") == "spiffe://corp.example/ns/ns1/sa/sa1"


@pytest.mark.parametrize(
    ("td", "ns", "sa"), [("", "a", "b"), ("td", "", "b"), ("td", "a", ""), ("td", "a/b", "c")]
)
def test_spiffe_id_rejects_empty_or_slashed_parts(td, ns, sa):
    with pytest.raises(InvalidSpiffeId):
        spiffe_id(td, ns, sa)


@pytest.mark.parametrize(
    "uri",
    [
        "https://cluster.local/ns/default/sa/x",
        "spiffe://cluster.local/ns/default",
        "spiffe://cluster.local/ns/default/sa/x/extra",
        "spiffe://cluster.local/namespace/default/sa/x",
        "spiffe://cluster.local/ns/default/serviceaccount/x",
        "spiffe://cluster.local/ns//sa/x",
        "spiffe:///ns/default/sa/x",
        "spiffe://cluster.local/ns/default/sa/",
    ],
)
def test_parse_rejects_anything_but_ns_sa(uri):
    with pytest.raises(InvalidSpiffeId):
        parse_spiffe_id(uri)
