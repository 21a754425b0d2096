"""Global rate limiting: meshpilot serves Envoy's rate limit service over in-process or Redis buckets."""
