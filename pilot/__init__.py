"""meshpilot: a service-mesh control plane for real Envoy sidecars (Pilot, Citadel and Galley roles)."""

__version__ = "0.1.0"
