"""Public test kit: tiny upstream apps, loopback meshes, Envoy process helpers, ADS test client."""
