"""Virtual host and route selection tables over hand-built Envoy route configs."""

from __future__ import annotations

import pytest
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from envoy.type.matcher.v3 import regex_pb2, string_pb2

from pilot.simulate.actions import route_clusters
from pilot.simulate.request import Request
from pilot.simulate.routing import route_matches, select_virtual_host


def rcfg(*vhosts: tuple[str, list[str]]) -> route_pb2.RouteConfiguration:
    cfg = route_pb2.RouteConfiguration(name="80")
    for name, domains in vhosts:
        cfg.virtual_hosts.add(name=name, domains=domains)
    return cfg


VHOSTS = rcfg(("catch", ["*"]), ("suffix-short", ["*.com"]), ("suffix-long", ["*.example.com"]),
              ("prefix", ["api.*"]), ("exact", ["www.example.com", "www.example.com:80"]),
              ("port-only", ["svc:9080"]))


@pytest.mark.parametrize(("host", "expected"), [
    ("www.example.com", "exact"),
    ("WWW.Example.com", "exact"),  # domains are case-insensitive
    ("www.example.com:80", "exact"),
    ("foo.example.com", "suffix-long"),  # longest suffix wins
    ("foo.other.com", "suffix-short"),
    ("api.internal", "prefix"),
    ("api.example.com", "suffix-long"),  # suffix wildcards beat prefix wildcards
    ("svc", "catch"),  # no port in Host: the `svc:9080` domain does not apply
    ("svc:9080", "port-only"),
    ("nothing", "catch"),
])
def test_virtual_host_search_order(host: str, expected: str) -> None:
    vh = select_virtual_host(VHOSTS, host)
    assert vh is not None and vh.name == expected


def test_ignore_port_in_host_matching_strips_the_port() -> None:
    cfg = rcfg(("a", ["reviews"]))
    assert select_virtual_host(cfg, "reviews:9080") is None
    cfg.ignore_port_in_host_matching = True
    vh = select_virtual_host(cfg, "reviews:9080")
    assert vh is not None and vh.name == "a"


def sm(**kw: object) -> string_pb2.StringMatcher:
    return string_pb2.StringMatcher(**kw)  # type: ignore[arg-type]


def hdr(name: str, invert: bool = False, missing_empty: bool = False, **kw: object) -> rc.HeaderMatcher:
    return rc.HeaderMatcher(name=name, invert_match=invert, treat_missing_header_as_empty=missing_empty,
                            **kw)  # type: ignore[arg-type]


def req(path: str = "/", headers: dict[str, str] | None = None, method: str = "GET") -> Request:
    return Request.from_url(f"http://svc:9080{path}", method, headers)


def insensitive(m: rc.RouteMatch) -> rc.RouteMatch:
    m.case_sensitive.value = False
    return m


@pytest.mark.parametrize(("match", "request_", "expected"), [
    (rc.RouteMatch(prefix="/api"), req("/api/v1"), True),
    (rc.RouteMatch(prefix="/api"), req("/API/v1"), False),
    (insensitive(rc.RouteMatch(prefix="/api")), req("/API/v1"), True),
    (rc.RouteMatch(path="/exact"), req("/exact"), True),
    (rc.RouteMatch(path="/exact"), req("/exact/more"), False),
    (rc.RouteMatch(path="/exact"), req("/exact?x=1"), True),  # the query is not part of the path
    (rc.RouteMatch(path_separated_prefix="/api"), req("/api/x"), True),
    (rc.RouteMatch(path_separated_prefix="/api"), req("/apix"), False),
    (rc.RouteMatch(safe_regex=regex_pb2.RegexMatcher(regex="/u/[0-9]+")), req("/u/42"), True),
    (rc.RouteMatch(safe_regex=regex_pb2.RegexMatcher(regex="/u/[0-9]+")), req("/u/42/x"), False),  # full match
    (rc.RouteMatch(prefix="/", headers=[hdr("end-user", string_match=sm(exact="jason"))]),
     req(headers={"End-User": "jason"}), True),
    (rc.RouteMatch(prefix="/", headers=[hdr("end-user", string_match=sm(exact="jason"))]),
     req(headers={"end-user": "Jason"}), False),
    (rc.RouteMatch(prefix="/", headers=[hdr("end-user", string_match=sm(exact="jason", ignore_case=True))]),
     req(headers={"end-user": "JASON"}), True),
    (rc.RouteMatch(prefix="/", headers=[hdr("x", string_match=sm(prefix="ab"))]), req(headers={"x": "abc"}), True),
    (rc.RouteMatch(prefix="/", headers=[hdr("x", string_match=sm(safe_regex=regex_pb2.RegexMatcher(
        regex="a.c")))]), req(headers={"x": "abc"}), True),
    (rc.RouteMatch(prefix="/", headers=[hdr("x", present_match=True)]), req(), False),
    (rc.RouteMatch(prefix="/", headers=[hdr("x", present_match=True)]), req(headers={"x": ""}), True),
    # withoutHeaders: inverted present match, a missing header matches
    (rc.RouteMatch(prefix="/", headers=[hdr("x", invert=True, present_match=True)]), req(), True),
    (rc.RouteMatch(prefix="/", headers=[hdr("x", invert=True, present_match=True)]), req(headers={"x": "1"}),
     False),
    # an inverted value match on a missing header fails, unless missing counts as empty
    (rc.RouteMatch(prefix="/", headers=[hdr("x", invert=True, string_match=sm(exact="a"))]), req(), False),
    (rc.RouteMatch(prefix="/", headers=[hdr("x", invert=True, missing_empty=True, string_match=sm(exact="a"))]),
     req(), True),
    (rc.RouteMatch(prefix="/", headers=[hdr(":method", string_match=sm(exact="POST"))]), req(method="post"), True),
    (rc.RouteMatch(prefix="/", query_parameters=[rc.QueryParameterMatcher(name="v", string_match=sm(exact="2"))]),
     req("/?v=2"), True),
    (rc.RouteMatch(prefix="/", query_parameters=[rc.QueryParameterMatcher(name="v", string_match=sm(exact="2"))]),
     req("/?v=3"), False),
    (rc.RouteMatch(prefix="/", query_parameters=[rc.QueryParameterMatcher(name="v", present_match=True)]),
     req("/?v"), True),
])
def test_route_match_table(match: rc.RouteMatch, request_: Request, expected: bool) -> None:
    assert route_matches(match, request_) is expected


def test_weighted_clusters_report_probabilities_and_drop_zero_weights() -> None:
    action = rc.RouteAction()
    for name, weight in (("a", 1), ("b", 3), ("c", 0)):
        cw = action.weighted_clusters.clusters.add(name=name)
        cw.weight.value = weight
    got = {c.name: c.probability for c in route_clusters(action)}
    assert got == {"a": 0.25, "b": 0.75}


def test_request_from_url_defaults_and_host_override() -> None:
    r = Request.from_url("https://example.com/p?q=1", "post", {"Host": "other:8443", "X-A": "b"})
    assert (r.scheme, r.port, r.path, r.query, r.method, r.host) == ("https", 443, "/p", "q=1", "POST", "other:8443")
    assert r.headers == {"x-a": "b"}
    assert Request.from_url("http://reviews:9080/").host == "reviews:9080"
