"""`pilot proxy-config` as a user runs it: a separate process, tables by default, -o json|yaml, filters,
one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BOOKINFO = str(REPO / "policies/bookinfo")
REVIEWS = "reviews.default.svc.cluster.local"


def pilot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pilot", *args], capture_output=True, text=True, timeout=60)


def assert_one_line_error(p: subprocess.CompletedProcess[str], text: str) -> None:
    assert p.returncode != 0, p
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
    assert text in p.stderr, p.stderr


def test_unknown_kind_is_a_one_line_error() -> None:
    p = pilot("proxy-config", "clustr", "productpage-v1-0.default", "--config", BOOKINFO)
    assert_one_line_error(p, "unknown kind 'clustr'")
    assert p.stdout == ""


def test_unknown_pod_missing_config_and_unreachable_server_are_one_line_errors() -> None:
    assert_one_line_error(pilot("proxy-config", "cluster", "nope.default", "--config", BOOKINFO), "no pod 'nope'")
    assert_one_line_error(pilot("proxy-config", "cluster", "pp.default", "--config", "/nonexistent/dir"),
                          "/nonexistent/dir")
    assert_one_line_error(pilot("proxy-config", "cluster", "pp.default", "--server", "127.0.0.1:1"),
                          "cannot reach 127.0.0.1:1")
    assert_one_line_error(pilot("proxy-config", "route", "productpage-v1-0.default", "--config", BOOKINFO,
                                "--subset", "v1"), "--subset does not apply to route")


def test_json_and_yaml_are_the_full_filtered_resources() -> None:
    p = pilot("proxy-config", "clusters", "productpage-v1-0.default", "--config", BOOKINFO,
              "--fqdn", "reviews", "-o", "json")
    assert p.returncode == 0, p.stderr
    clusters = json.loads(p.stdout)
    assert [c["name"] for c in clusters] == [f"outbound|9080|{s}|{REVIEWS}" for s in ("", "v1", "v2", "v3")]
    assert all(c["type"] == "EDS" and "edsClusterConfig" in c for c in clusters)
    p = pilot("proxy-config", "route", "productpage-v1-0.default", "--config", BOOKINFO, "-o", "yaml")
    routes = yaml.safe_load(p.stdout)
    assert [r["name"] for r in routes] == ["9080"] and routes[0]["virtualHosts"]
    p = pilot("proxy-config", "all", "productpage-v1-0.default", "--config", BOOKINFO, "-o", "json")
    assert "type.googleapis.com/envoy.config.listener.v3.Listener" in json.loads(p.stdout)


def test_default_output_is_a_table_that_filters_narrow_and_never_truncates() -> None:
    p = pilot("proxy-config", "cluster", "productpage-v1-0.default", "--config", BOOKINFO,
              "--fqdn", REVIEWS, "--subset", "v2")
    assert p.returncode == 0, p.stderr
    lines = [line.split() for line in p.stdout.splitlines() if line.strip() and not line.startswith("─")]
    assert lines[0] == ["SERVICE", "FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION", "RULE"]
    assert lines[1:] == [[REVIEWS, "9080", "v2", "outbound", "EDS", "reviews.default"]]
    p = pilot("proxy-config", "endpoint", "productpage-v1-0.default", "--config", BOOKINFO,
              "--cluster", f"outbound|9080|v2|{REVIEWS}")
    assert f"outbound|9080|v2|{REVIEWS}" in p.stdout and "127.10.0.14:9080" in p.stdout  # not cut at 80 columns
