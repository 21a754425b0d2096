"""IST0130/IST0131 over http, tcp and tls rules: input YAML -> the exact findings, with Istio's reasons."""

from __future__ import annotations

import pytest

from tests.unit.analysis.kit import codes, findings, vs

R = "route: [{destination: {host: reviews}}]"
VS_R = "VirtualService default/r"


@pytest.mark.parametrize(("body", "expected"), [
    # negative: distinct matches, one catch-all last
    (f"http: [{{match: [{{uri: {{prefix: /a}}}}], {R}}}, {{{R}}}]", []),
    # a second match-less rule
    (f"http: [{{{R}}}, {{{R}}}]", [("IST0130", VS_R)]),
    # a rule with matches after a match-less rule
    (f"http: [{{{R}}}, {{match: [{{uri: {{prefix: /a}}}}], {R}}}]", [("IST0130", VS_R)]),
    # every match repeats: the match (IST0131) and the rule (IST0130)
    (f"http: [{{match: [{{uri: {{exact: /a}}}}], {R}}}, {{match: [{{uri: {{exact: /a}}}}], {R}}}]",
     [("IST0130", VS_R), ("IST0131", VS_R)]),
    # the match name does not make a match different
    (f"http: [{{match: [{{name: x, uri: {{exact: /a}}}}], {R}}}, {{match: [{{name: y, uri: {{exact: /a}}}}], {R}}}]",
     [("IST0130", VS_R), ("IST0131", VS_R)]),
    # one of two matches repeats
    (f"http: [{{match: [{{uri: {{exact: /a}}}}], {R}}}, "
     f"{{match: [{{uri: {{exact: /a}}}}, {{uri: {{exact: /b}}}}], {R}}}]",
     [("IST0131", VS_R)]),
    # an earlier shorter prefix covers a later one (overlap)
    (f"http: [{{match: [{{uri: {{prefix: /api}}}}], {R}}}, {{match: [{{uri: {{prefix: /api/v2}}}}], {R}}}]",
     [("IST0131", VS_R)]),
    # negative: the later prefix also needs a header, so it is not covered
    (f"http: [{{match: [{{uri: {{prefix: /api}}}}], {R}}}, "
     f"{{match: [{{uri: {{prefix: /api/v2}}, headers: {{x: {{exact: a}}}}}}], {R}}}]", []),
    # negative: a longer prefix first does not cover a shorter one
    (f"http: [{{match: [{{uri: {{prefix: /api/v2}}}}], {R}}}, {{match: [{{uri: {{prefix: /api}}}}], {R}}}]", []),
    # tcp: a repeated port match, and a rule after a match-less one
    (f"tcp: [{{match: [{{port: 9080}}], {R}}}, {{match: [{{port: 9080}}], {R}}}]",
     [("IST0130", VS_R), ("IST0131", VS_R)]),
    (f"tcp: [{{{R}}}, {{match: [{{port: 9080}}], {R}}}]", [("IST0130", VS_R)]),
    (f"tcp: [{{match: [{{port: 9080}}], {R}}}, {{match: [{{port: 9081}}], {R}}}]", []),
    # tls: a repeated SNI match
    (f"tls: [{{match: [{{sniHosts: [reviews]}}], {R}}}, {{match: [{{sniHosts: [reviews]}}], {R}}}]",
     [("IST0130", VS_R), ("IST0131", VS_R)]),
    (f"tls: [{{match: [{{sniHosts: [reviews]}}], {R}}}, {{match: [{{sniHosts: [reviews], port: 443}}], {R}}}]", []),
])
def test_route_rule_findings(body: str, expected: list[tuple[str, str]]) -> None:
    assert codes(vs("r", body)) == expected


def test_reasons_and_rule_names_follow_istio() -> None:
    body = (f"http: [{{name: first, {R}}}, {{name: second, {R}}}, {{match: [{{uri: {{prefix: /a}}}}], {R}}}]")
    got = [(f.field, f.message) for f in findings(vs("r", body))]
    assert got == [
        ("spec.http[1]", 'VirtualService rule "second" not used (only the last rule can have no matches).'),
        ("spec.http[2]", "VirtualService rule #2 not used (route without matches defined before)."),
    ]


def test_overlap_message_names_both_prefixes() -> None:
    body = f"http: [{{match: [{{uri: {{prefix: /api}}}}], {R}}}, {{match: [{{uri: {{prefix: /api/v2}}}}], {R}}}]"
    (f,) = findings(vs("r", body))
    assert (f.field, f.message) == ("spec.http[1].match[0]", "VirtualService rule #1 match #0 of prefix /api/v2 is "
                                    "not used (duplicate/overlapping match in rule #0 of prefix /api on #0).")
    assert f.severity.value == "info"
