"""Simulate a request through a proxy's generated Envoy config, and declarative policy tests.

    from pilot.simulate import Request, simulate
    result = simulate(snapshot, "productpage-v1-0.default", Request.from_url("http://reviews:9080/"))
    result.clusters, result.destinations, result.allowed, result.status, result.to_dict()
"""

from pilot.simulate.engine import SimulationError, Simulator, simulate
from pilot.simulate.request import Request, RequestError
from pilot.simulate.result import SimulationResult

__all__ = ["Request", "RequestError", "SimulationError", "SimulationResult", "Simulator", "simulate"]
