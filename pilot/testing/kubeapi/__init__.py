"""Pieces of the fake kube-apiserver (see pilot.testing.kube_apiserver for the server itself)."""
