"""Config sources: the only code that touches the filesystem or Kubernetes.

Every source feeds a `ConfigStore` (store.py) with full or incremental state; the store keeps the
last valid version of every resource and tells the push glue when something changed.
"""
