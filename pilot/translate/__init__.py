"""Pure translation: (snapshot, proxy view) -> Envoy protobuf resources."""
