"""Walks the generated Envoy config for a request: where does it go, is it allowed."""
