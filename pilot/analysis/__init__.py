"""Cross-resource analyzers (istioctl analyze): findings with stable codes."""
