"""Backoff growth and the operator-facing messages of the kube source."""

from __future__ import annotations

import json
import random

from kubernetes.client import ApiException

from pilot.model.kinds import KINDS
from pilot.sources.kube import problems
from pilot.sources.kube.backoff import Backoff


def test_backoff_doubles_to_a_cap_with_bounded_jitter_and_resets() -> None:
    b = Backoff(initial=0.1, maximum=1.0, jitter=0.2, rng=random.Random(7))
    delays = [b.next() for _ in range(8)]
    for base, got in zip([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0], delays, strict=True):
        assert base * 0.8 <= got <= base * 1.2
    b.reset()
    assert b.next() <= 0.12


def test_forbidden_message_names_verb_resource_group_and_namespace() -> None:
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = json.dumps({"message": 'sidecars.networking.istio.io is forbidden: User "x" cannot watch'})
    text = problems.forbidden(KINDS["Sidecar"], "watch", "shop", exc)
    for part in ("verb='watch'", "resource='sidecars'", "apiGroup='networking.istio.io'",
                 'in namespace "shop"', "Role rule", "User \"x\" cannot watch"):
        assert part in text
