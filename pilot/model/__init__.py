"""Pure data: config resources, services, workloads, proxies, the immutable mesh snapshot and its graph.

Nothing here knows Envoy protobufs, gRPC or Kubernetes clients (checked by import-linter).
"""
