"""The web dashboard on the control plane's HTTP port (`/dashboard`): mesh graph with live request rates
from sidecar Prometheus scrapes, proxy sync status and per-proxy config. See docs/dashboard.md."""
