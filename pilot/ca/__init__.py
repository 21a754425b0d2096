"""Citadel's part: the certificate authority, SPIFFE identities, workload cert rotation and proxy credentials.

Nothing here speaks gRPC or Envoy protobufs; `pilot.translate.secrets` turns certificates into SDS
resources and the composition root wires authentication into the xDS server.
"""
