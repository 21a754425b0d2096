"""Mesh-agnostic xDS core: per-node resource sets, versions, nonces, ACK/NACK, SotW and delta ADS.

Nothing here knows about services or Istio config: someone else computes the resources per node and
puts them in a `ResourceCache`; the `XdsServer` serves them to proxies. See
shared/design/xds-protocol-notes.md (team docs) for the protocol rules this package follows.
"""
