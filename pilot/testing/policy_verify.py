"""`pilot test --verify-envoy`: replay policy-test cases through real Envoys on loopback.

The config's Pods must be laid out like `LoopbackMesh` (pod IP a.b.c.n, egress bind a.b.(c+1).n, admin
a.b.(c+2).n, pod name `<app>-<version>-0`). The files are copied with every address moved to a random
block, so a run does not collide with `pilot demo` or other tests; the simulator answers on that same
relocated config, and each case's Envoy answers are compared with its prediction: the status code, and
which versions answered (with their shares for a weighted split).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from pilot.model.resource import Resource
from pilot.model.snapshot import build_snapshot
from pilot.simulate.engine import SimulationError, Simulator
from pilot.simulate.policytest import CaseOutcome, PolicyCase, PolicyTest
from pilot.simulate.result import SimulationResult
from pilot.sources.yaml_files import yaml_files
from pilot.testing.mesh import LoopbackMesh, PodSpec, random_block
from pilot.testing.runner import MeshClient, MeshRunner

Loader = Callable[[list[Path]], list[Resource]]
SPLIT_REQUESTS = 1000  # at 80/20 the sd is 1.3 points, so the 5-point tolerance is ~4 sd (testing.md)
SPLIT_TOLERANCE = 5.0
PLAIN_REQUESTS = 20


class LayoutError(ValueError):
    pass


def mesh_layout(resources: Sequence[Resource]) -> tuple[tuple[int, int, int], LoopbackMesh]:
    """The LoopbackMesh the Pods describe, and the /24 block (a, b, c) of their IPs."""
    blocks = set()
    mesh = LoopbackMesh()
    for pod in (r for r in resources if r.kind == "Pod"):
        ip = str((pod.status or {}).get("podIP") or "")
        parts = ip.split(".")
        if len(parts) != 4 or not ip.startswith("127."):
            raise LayoutError(f"Pod {pod.namespace}/{pod.name}: podIP {ip!r} is not a loopback address")
        block = (int(parts[0]), int(parts[1]), int(parts[2]))
        blocks.add(block)
        spec = PodSpec(service=str(pod.labels.get("app", "")), version=str(pod.labels.get("version", "")),
                       index=int(parts[3]), block=block, namespace=pod.namespace)
        if spec.name != pod.name:
            raise LayoutError(f"Pod {pod.namespace}/{pod.name}: LoopbackMesh needs the name {spec.name!r} "
                              "(<app>-<version>-0)")
        mesh.pods.append(spec)
    if len(blocks) != 1:
        raise LayoutError(f"the Pods must share one a.b.c.0/24 block of pod IPs, found {sorted(blocks)}")
    return blocks.pop(), mesh


def relocate(files: Sequence[Path], old: tuple[int, int, int], new: tuple[int, int, int], into: Path) -> None:
    """Copy `files` into `into`, moving a.b.c+k.n addresses (k = 0, 1, 2) to the new block."""
    pattern = re.compile(rf"\b{old[0]}\.{old[1]}\.({old[2]}|{old[2] + 1}|{old[2] + 2})\.(\d+)\b")

    def move(m: re.Match[str]) -> str:
        return f"{new[0]}.{new[1]}.{new[2] + int(m.group(1)) - old[2]}.{m.group(2)}"

    for i, f in enumerate(files):
        (into / f"{i:03d}-{f.name}").write_text(pattern.sub(move, f.read_text(encoding="utf-8")))


def _version(body: bytes) -> str:
    try:
        return str(json.loads(body).get("version", ""))
    except (ValueError, AttributeError):
        return ""


def _expected_shares(result: SimulationResult) -> dict[str, float]:
    """Percent of answers per version: the cluster's probability, shared evenly by its endpoints."""
    shares: dict[str, float] = {}
    for choice in result.clusters:
        versions = [e.labels.get("version", "") for e in result.endpoints if e.cluster == choice.name and e.healthy]
        for v in versions:
            shares[v] = shares.get(v, 0.0) + 100 * choice.probability / len(versions)
    return shares


def compare(result: SimulationResult, answers: Sequence[tuple[int, str]]) -> list[str]:
    """What Envoy did differently from the simulator's prediction."""
    failures = []
    statuses = Counter(s for s, _ in answers)
    if result.status is not None and set(statuses) != {result.status}:
        failures.append(f"envoy: statuses {dict(statuses)}, simulator predicted {result.status}")
    if not result.ok or not result.clusters:
        return failures
    expected = _expected_shares(result)
    seen = Counter(v for s, v in answers if s == result.status)
    total = sum(seen.values()) or 1
    unexpected = set(seen) - set(expected)
    if unexpected:
        failures.append(f"envoy: versions {sorted(unexpected)} answered, simulator predicted {sorted(expected)}")
    for version, share in expected.items():
        got = 100 * seen.get(version, 0) / total
        if abs(got - share) > (SPLIT_TOLERANCE if 0 < share < 100 else 0.0):
            failures.append(f"envoy: version {version} answered {got:.1f}% of requests, simulator predicted "
                            f"{share:g}%")
    return failures


def _send(runner: MeshRunner, case: PolicyCase, n: int) -> list[tuple[int, str]]:
    name, _, ns = case.source.rpartition(".")
    pod = next((p for p in runner.mesh.pods if p.name == name and p.namespace == ns), None)
    if pod is None:
        raise LayoutError(f"source pod {case.source} is not in the mesh")
    client = MeshClient(pod, port=case.request.port)
    r = case.request
    try:
        out = []
        for _ in range(n):
            status, _headers, body = client.request(r.host, r.path_and_query, dict(r.headers), r.method)
            out.append((status, _version(body)))
        return out
    finally:
        client.close()


def _verify_one(test: PolicyTest, load: Loader) -> list[CaseOutcome]:
    files = yaml_files(test.config)
    old, _ = mesh_layout(load(list(test.config)))
    new = random_block()
    with tempfile.TemporaryDirectory(prefix="meshpilot-policytest-") as tmp:
        cfg_dir = Path(tmp)
        relocate(files, old, new, cfg_dir)
        resources = load([cfg_dir])
        _, mesh = mesh_layout(resources)
        sim = Simulator(build_snapshot(resources))
        runner = MeshRunner(cfg_dir, mesh)
        outcomes = []
        try:
            runner.start_all()
            for case in test.cases:
                try:
                    result = sim.run(case.source, case.request)
                except SimulationError as exc:
                    outcomes.append(CaseOutcome(f"{test.name} [envoy]", case, None, [str(exc)]))
                    continue
                n = SPLIT_REQUESTS if len(_expected_shares(result)) > 1 else PLAIN_REQUESTS
                try:
                    failures = compare(result, _send(runner, case, n))
                except OSError as exc:
                    failures = [] if result.listener == "" else [f"envoy: {exc}"]
                outcomes.append(CaseOutcome(f"{test.name} [envoy]", case, result, failures))
        except Exception:
            print(runner.report())
            raise
        finally:
            runner.stop()
        return outcomes


def verify_with_envoy(tests: Sequence[PolicyTest], load: Loader) -> list[CaseOutcome]:
    outcomes: list[CaseOutcome] = []
    for test in tests:
        outcomes.extend(_verify_one(test, load))
    return outcomes
