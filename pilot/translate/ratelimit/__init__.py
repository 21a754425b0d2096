"""RateLimitPolicy -> Envoy local and global rate limit filters (docs/ratelimit.md)."""

from pilot.translate.ratelimit.apply import apply_rate_limit_policies

__all__ = ["apply_rate_limit_policies"]
