"""Kubernetes as a config source: list/watch reflectors built on the official `kubernetes` client."""

from pilot.sources.kube.analysis_status import StatusWriter
from pilot.sources.kube.clients import api_client_from
from pilot.sources.kube.leader import LeaderElector, LeaseTimings
from pilot.sources.kube.reflector import Reflector, ReflectorOptions
from pilot.sources.kube.source import KubeOptions, KubeSource, WatchStatus

__all__ = ["KubeOptions", "KubeSource", "LeaderElector", "LeaseTimings", "Reflector", "ReflectorOptions",
           "StatusWriter", "WatchStatus", "api_client_from"]
