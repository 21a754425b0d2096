"""`pilot proxy-config`: istioctl-like summaries of the xDS generated for one proxy."""
