"""Knative scale-from-zero and scale-to-zero on the mesh (knative-notes.md §3, §4.3).

- `core.Activator` holds requests for a revision without a ready pod, fires the activation hook once
  per cold period and forwards to the pod once one answers; `proxy.py` is its HTTP/1.1 face.
- `scaler.Scaler` owns the revisions' endpoint modes (an input of the snapshot, model/revisions.py):
  after an idle window it points a revision at the activator, waits until every connected proxy ACKed
  that EDS (xds/ackgate.py), then calls the deactivation hook.
- `wiring.py` starts both inside `pilot serve --activator ADDR`.
"""
