from __future__ import annotations

import random
from datetime import timedelta

import pytest
from ca_test_kit import verify_client_chain

from pilot.ca.authority import CertificateAuthority
from pilot.ca.identity import Identity
from pilot.ca.rotation import CertStore


def store_for(ca, clock, **kw) -> CertStore:
    kw.setdefault("jitter_ratio", 0.0)
    return CertStore(ca, ttl_s=60, clock=clock, **kw)


def test_cert_is_kept_until_half_life_then_reissued(ca, clock):
    store = store_for(ca, clock)
    first = store.get("default", "reviews")
    assert store.next_rotation_at() == clock() + timedelta(seconds=30)
    clock.advance(29)
    assert store.get("default", "reviews") is first
    clock.advance(1)
    second = store.get("default", "reviews")
    assert second is not first
    assert second.key_pem != first.key_pem
    assert second.not_after == first.not_after + timedelta(seconds=30)
    assert store.next_rotation_at() == clock() + timedelta(seconds=30)
    assert verify_client_chain(second.cert_chain_pem, ca.root_pem, clock()) == [second.spiffe_id]


def test_identity_is_shared_by_proxies_and_distinct_across_identities(ca, clock):
    store = store_for(ca, clock)
    assert store.get("default", "reviews") is store.get("default", "reviews")
    other = store.get("default", "ratings")
    assert other.spiffe_id == "spiffe://cluster.local/ns/default/sa/ratings"
    assert other.key_pem != store.get("default", "reviews").key_pem
    assert store.peek("prod", "reviews") is None


def test_rotate_due_reissues_only_due_identities(ca, clock):
    store = store_for(ca, clock)
    store.get("default", "reviews")
    clock.advance(20)
    ratings = store.get("default", "ratings")
    assert store.next_rotation_at() == clock() + timedelta(seconds=10)
    clock.advance(10)
    assert store.rotate_due() == [Identity("default", "reviews")]
    assert store.peek("default", "ratings") is ratings
    assert store.rotate_due() == []
    assert store.next_rotation_at() == clock() + timedelta(seconds=20)


def test_lifetime_clamped_by_ca_moves_rotation_earlier(ca_dir, clock):
    ca = CertificateAuthority.load_or_create(ca_dir, root_ttl=timedelta(seconds=100), clock=clock)
    store = CertStore(ca, ttl_s=86400, clock=clock, jitter_ratio=0.0)
    cert = store.get("default", "reviews")
    assert cert.not_after == clock() + timedelta(seconds=100)
    assert store.next_rotation_at() == clock() + timedelta(seconds=50)


def test_jitter_stays_within_one_percent_of_lifetime(ca, clock):
    store = CertStore(ca, ttl_s=10_000, clock=clock, rng=random.Random(7))
    for i in range(20):
        store.get("default", f"sa{i}")
    lows = [store.peek("default", f"sa{i}") for i in range(20)]
    assert all(lows)
    rotate_ats = {store._entries[Identity("default", f"sa{i}")].rotate_at for i in range(20)}
    assert len(rotate_ats) > 1  # jitter really spreads identities
    for at in rotate_ats:
        assert clock() + timedelta(seconds=4900) <= at <= clock() + timedelta(seconds=5100)


def test_retain_forgets_unused_identities(ca, clock):
    store = store_for(ca, clock)
    store.get("default", "reviews")
    store.get("default", "ratings")
    store.retain([Identity("default", "ratings")])
    assert store.identities() == [Identity("default", "ratings")]
    store.retain([])
    assert store.next_rotation_at() is None


@pytest.mark.parametrize(("grace", "jitter"), [(0.0, 0.0), (1.0, 0.0), (0.5, 0.5)])
def test_bad_ratios_refused(ca, grace, jitter):
    with pytest.raises(ValueError):
        CertStore(ca, grace_ratio=grace, jitter_ratio=jitter)
