"""Knative Serving on the mesh: Services, Configurations, Routes and Revisions turned into the Kubernetes
and Istio resources the existing translation serves, as net-istio does (docs/knative.md).

    spec.py        the Knative objects, parsed and defaulted (frozen)
    revisions.py   the revision history meshpilot keeps when Knative's controller does not run
    traffic.py     traffic targets resolved to ready revisions (merged, last good kept)
    rollout.py     Knative's gradual rollout (serving.knative.dev/rollout-duration)
    derive.py      revision Services/EndpointSlices, placeholder Services, `{route}-mesh` VirtualServices
    status.py      Knative-shaped status of each object
    reconciler.py  the stateful stage between the config store and the snapshot
"""
