"""EnvoyFilter: patches over the generated Envoy config, applied after translation (istio-reference.md §1.9)."""

from pilot.translate.envoyfilter.apply import apply_envoy_filters, patch_value_findings
from pilot.translate.envoyfilter.selection import Patch, patches_for, static_problem

__all__ = ["Patch", "apply_envoy_filters", "patch_value_findings", "patches_for", "static_problem"]
