"""`pilot simulate`, `pilot analyze` and `pilot test`: the CLI glue that reads files and prints.

The simulator and analyzers are pure (pilot.simulate, pilot.analysis); this module loads YAML with the
file source's loader and validation, as `pilot serve` would, so invalid resources are left out of
simulation; analysis keeps them and reports them (IST0106), as istioctl analyze does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pilot.cli_errors import require_paths


def load_resources(paths: list[Path] | list[str], quiet: bool = False) -> list[Any]:
    """Valid resources from files/dirs; problems go to stderr (invalid resources are skipped)."""
    from pilot.sources.yaml_files import load_paths
    from pilot.validation import validate_document, validate_resource

    resources, findings, _ = load_paths(paths, validate_document)
    latest = {r.key: r for r in resources}  # a later document with the same kind/namespace/name replaces it
    kept = []
    for r in latest.values():
        problems = validate_resource(r)
        findings.extend(problems)
        if not any(p.is_error for p in problems):
            kept.append(r)
    if not quiet:
        for f in findings:
            if f.is_error:
                print(f"skipped: {f.line()}", file=sys.stderr)
    return kept


GATEWAY_API_GROUP = "gateway.networking.k8s.io"
_NOT_ISTIO = "MP0199"  # internal: a Gateway API document, left out of analysis


def load_for_analysis(paths: list[Path] | list[str]) -> tuple[list[Any], list[Any]]:
    """Every resource of a known kind, valid or not (analysis reports invalid ones, as istioctl does),
    and the findings about documents that made no resource, under Istio's schema code.

    Gateway API kinds (gateway.networking.k8s.io Gateway, HTTPRoute, ...) are a different API from
    Istio's networking.istio.io Gateway: they are left out rather than read as, or collide with, one.
    """
    from pilot.analysis.schema import schema_findings
    from pilot.model.findings import Finding, Severity
    from pilot.sources.yaml_files import load_paths
    from pilot.validation import validate_document
    from pilot.validation.document import CODE_BAD_DOCUMENT

    def check(doc: Any, origin: Any) -> list[Any]:
        api = doc.get("apiVersion") if isinstance(doc, dict) else None
        if isinstance(api, str) and api.split("/", 1)[0] == GATEWAY_API_GROUP:
            return [Finding(code=_NOT_ISTIO, severity=Severity.ERROR, message="Gateway API", origin=origin)]
        return validate_document(doc, origin)

    resources, findings, _ = load_paths(paths, check)
    latest = {(r.api_version.split("/")[0], r.key): r for r in resources}  # a later document replaces it
    documents = [f for f in findings if f.code == CODE_BAD_DOCUMENT]
    others = [f for f in findings if f.is_error and f.code not in (CODE_BAD_DOCUMENT, _NOT_ISTIO)]
    return list(latest.values()), schema_findings(documents) + others


def _simulate(args: argparse.Namespace) -> int:
    from pilot.model.snapshot import build_snapshot
    from pilot.simulate.engine import SimulationError, simulate
    from pilot.simulate.render import print_result
    from pilot.simulate.request import Request, RequestError, parse_header

    require_paths(args.config)
    try:
        headers = dict(parse_header(h) for h in args.header or [])
        request = Request.from_url(args.url, args.method, headers)
        result = simulate(build_snapshot(load_resources(args.config)), args.source, request)
    except (RequestError, SimulationError) as exc:
        print(f"pilot simulate: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print_result(result)
    if not result.ok:
        print(f"request fails: {result.error or 'denied'}", file=sys.stderr)
    return 0 if result.ok else 1


def _analyze(args: argparse.Namespace) -> int:
    from pilot.analysis import analyze_resources, sort_findings
    from pilot.analysis.render import print_findings

    require_paths(args.paths)
    resources, load_findings = load_for_analysis(args.paths)
    findings = sort_findings(load_findings + analyze_resources(resources))
    if args.output == "json":
        print(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        print_findings(findings)
    return 1 if any(f.is_error for f in findings) else 0


def _test(args: argparse.Namespace) -> int:
    from rich.console import Console

    from pilot.simulate.policytest import PolicyTestError, load_tests, run_test
    from pilot.simulate.report import outcomes_json, print_outcomes

    require_paths(args.paths)
    try:
        tests = load_tests(args.paths)
    except (PolicyTestError, OSError, UnicodeDecodeError) as exc:
        print(f"pilot test: {exc}", file=sys.stderr)
        return 2
    if not tests:
        print("pilot test: no PolicyTest documents found", file=sys.stderr)
        return 2
    outcomes = [o for t in tests for o in run_test(t, lambda paths: load_resources(paths))]
    if args.verify_envoy:
        from pilot.testing.policy_verify import verify_with_envoy

        outcomes += verify_with_envoy(tests, load_resources)
    if args.output == "json":
        print(outcomes_json(outcomes))
    else:
        print_outcomes(outcomes, Console())
    return 0 if all(o.passed for o in outcomes) else 1


def add_policy_commands(sub: Any) -> None:
    s = sub.add_parser("simulate", help="where would this request go, and would it be allowed")
    s.add_argument("--config", action="append", required=True, metavar="DIR", help="YAML files/dirs (repeatable)")
    s.add_argument("--from", dest="source", required=True, metavar="POD.NAMESPACE", help="the client pod")
    s.add_argument("--url", required=True, help="e.g. http://reviews:9080/path")
    s.add_argument("-H", "--header", action="append", metavar="'Name: value'", help="request header (repeatable)")
    s.add_argument("-X", "--method", default="GET")
    s.add_argument("-o", "--output", choices=("table", "json"), default="table")
    s.set_defaults(func=_simulate)

    a = sub.add_parser("analyze", help="cross-resource findings with Istio's codes; exit 1 on any error")
    a.add_argument("paths", nargs="+")
    a.add_argument("-o", "--output", choices=("table", "json"), default="table")
    a.set_defaults(func=_analyze)

    t = sub.add_parser("test", help="run declarative policy tests (kind: PolicyTest)")
    t.add_argument("paths", nargs="+")
    t.add_argument("--verify-envoy", action="store_true",
                   help="also send each case through real Envoys on loopback and compare")
    t.add_argument("-o", "--output", choices=("table", "json"), default="table")
    t.set_defaults(func=_test)
