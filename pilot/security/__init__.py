"""Citadel wired into the running control plane: proxy credentials on xDS streams, SDS `default`/`ROOTCA`
for each proxy's verified identity, and workload certificate rotation (see `wiring.MeshSecurity`)."""
