"""Declarative policy tests (`kind: PolicyTest`, apiVersion policy.meshpilot.io/v1alpha1).

Each case names a source pod, a request and expectations; the simulator answers and every expected
field is compared. Files are read by the caller (`Loader`), so this module stays pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.simulate.engine import SimulationError, Simulator
from pilot.simulate.request import Request, RequestError
from pilot.simulate.result import SimulationResult

API_VERSION = "policy.meshpilot.io/v1alpha1"
KIND = "PolicyTest"
EXPECT_KEYS = ("cluster", "weights", "allowed", "status", "policy", "route", "virtual_host", "listener",
               "pods", "versions", "error")

Loader = Callable[[list[Path]], list[Resource]]


class PolicyTestError(ValueError):
    pass


@dataclass(frozen=True)
class PolicyCase:
    name: str
    source: str
    request: Request
    expect: Mapping[str, Any]


@dataclass
class PolicyTest:
    name: str
    path: Path
    config: list[Path]
    cases: list[PolicyCase] = field(default_factory=list)


@dataclass
class CaseOutcome:
    test: str
    case: PolicyCase
    result: SimulationResult | None
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def _request(case: Mapping[str, Any], where: str) -> Request:
    req = case.get("request") or {}
    if not req.get("url"):
        raise PolicyTestError(f"{where}: request.url is required")
    headers = {str(k): str(v) for k, v in (req.get("headers") or {}).items()}
    try:
        return Request.from_url(str(req["url"]), str(req.get("method", "GET")), headers)
    except RequestError as exc:
        raise PolicyTestError(f"{where}: {exc}") from exc


def _documents(text: str, path: Path) -> list[Any]:
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyTestError(f"{where}: YAML syntax error: {problem}") from exc


def parse_policy_tests(text: str, path: Path) -> list[PolicyTest]:
    out = []
    for doc in _documents(text, path):
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            continue
        name = str((doc.get("metadata") or {}).get("name") or path.stem)
        spec = doc.get("spec") or {}
        if not isinstance(spec, dict):
            raise PolicyTestError(f"{path}: PolicyTest {name}: spec must be a mapping")
        test = PolicyTest(name, path, [path.parent / str(c) for c in spec.get("config") or []])
        if not test.config:
            raise PolicyTestError(f"{path}: PolicyTest {name}: spec.config lists no files or directories")
        for c in test.config:
            if not c.exists():
                raise PolicyTestError(f"{path}: PolicyTest {name}: spec.config: no such file or directory: {c}")
        for i, case in enumerate(spec.get("cases") or []):
            where = f"{path}: PolicyTest {name}: cases[{i}]"
            if not isinstance(case, dict):
                raise PolicyTestError(f"{where}: a case must be a mapping (from, request, expect)")
            source = str(case.get("from") or (case.get("request") or {}).get("source") or "")
            if not source:
                raise PolicyTestError(f"{where}: 'from' (POD.NAMESPACE) is required")
            expect = dict(case.get("expect") or {})
            unknown = sorted(set(expect) - set(EXPECT_KEYS))
            if unknown:
                raise PolicyTestError(f"{where}: unknown expectations {unknown}; known: {list(EXPECT_KEYS)}")
            test.cases.append(PolicyCase(str(case.get("name") or f"case {i}"), source, _request(case, where),
                                         expect))
        out.append(test)
    return out


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _pods_match(expected: list[str], got: list[str]) -> bool:
    short = {g.rsplit(".", 1)[0] for g in got}
    return all(e in got or e in short for e in expected) and len(expected) == len(got)


def _weights_match(expected: Mapping[str, Any], result: SimulationResult) -> bool:
    full = {c.name: c.probability * 100 for c in result.clusters}
    by_subset = result.weights_by_subset()
    got = full if any("|" in str(k) for k in expected) else by_subset
    if set(map(str, expected)) != set(got):
        return False
    return all(abs(float(v) - got[str(k)]) < 0.01 for k, v in expected.items())


def check(expect: Mapping[str, Any], r: SimulationResult) -> list[str]:
    """One message per expectation the result does not meet."""
    got: dict[str, Any] = {
        "cluster": r.clusters[0].name if len(r.clusters) == 1 else [c.name for c in r.clusters],
        "weights": r.weights_by_subset(), "allowed": r.allowed, "status": r.status, "policy": r.policy,
        "route": r.route, "virtual_host": r.virtual_host, "listener": r.listener, "pods": r.destination_pods,
        "versions": sorted({d.labels.get("version", "") for d in r.endpoints if d.healthy}), "error": r.error}
    ok: dict[str, Callable[[Any], bool]] = {
        "cluster": lambda v: got["cluster"] == str(v),
        "weights": lambda v: isinstance(v, Mapping) and _weights_match(v, r),
        "allowed": lambda v: r.allowed is bool(v),
        "status": lambda v: r.status == int(v),
        "policy": lambda v: (str(v) in r.policy) if v else not r.policy,
        "pods": lambda v: _pods_match(_as_list(v), r.destination_pods),
        "versions": lambda v: sorted(_as_list(v)) == got["versions"],
        "error": lambda v: str(v) in r.error if v else not r.error,
    }
    failures = []
    for key, want in expect.items():
        passed = ok[key](want) if key in ok else got[key] == want
        if not passed:
            failures.append(f"{key}: expected {want!r}, got {got[key]!r}")
    return failures


def run_cases(test: PolicyTest, snapshot: MeshSnapshot) -> list[CaseOutcome]:
    sim = Simulator(snapshot)
    out = []
    for case in test.cases:
        try:
            result = sim.run(case.source, case.request)
        except SimulationError as exc:
            out.append(CaseOutcome(test.name, case, None, [str(exc)]))
            continue
        out.append(CaseOutcome(test.name, case, result, check(case.expect, result)))
    return out


def policy_test_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.rglob("*.yaml")) if p.is_dir() else [p])
    return files


def load_tests(paths: Iterable[str | Path]) -> list[PolicyTest]:
    tests: list[PolicyTest] = []
    for f in policy_test_files(paths):
        tests.extend(parse_policy_tests(f.read_text(encoding="utf-8"), f))
    return tests


def run_test(test: PolicyTest, load: Loader) -> list[CaseOutcome]:
    return run_cases(test, build_snapshot(load(test.config)))
