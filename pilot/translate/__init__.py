"""Pure translation: (MeshSnapshot, ProxyView) -> Envoy protobuf resources, with Istio's naming.

No awaits, no globals, no settings look-ups: equal inputs give byte-identical output.
"""
