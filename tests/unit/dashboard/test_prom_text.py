import math

import pytest

from pilot.dashboard.prom_text import ParseError, Sample, parse, parse_line

PAGE = r'''# HELP envoy_cluster_upstream_rq Total requests
# TYPE envoy_cluster_upstream_rq counter
envoy_cluster_upstream_rq{reporter="source",response_code="200",destination_service_name="reviews"} 12
envoy_cluster_upstream_rq{response_code="503",reporter="source",destination_service_name="reviews",} 3 1700000000000
envoy_cluster_upstream_rq_time_bucket{le="0.5"} 7
envoy_server_uptime 42
weird{path="a \"quoted\" \\ value\nnext"} +Inf
broken{x="unterminated} 1
also broken 1 2 3
'''


def test_parses_labels_values_and_timestamps() -> None:
    samples = list(parse(PAGE))
    assert samples[0] == Sample("envoy_cluster_upstream_rq", (("destination_service_name", "reviews"),
                                                               ("reporter", "source"), ("response_code", "200")),
                                12.0)
    # Label order does not matter, a trailing comma is allowed, the timestamp is ignored.
    assert samples[1].label("response_code") == "503" and samples[1].value == 3.0
    assert samples[1].labels == tuple(sorted(samples[1].labels))
    assert (samples[3].name, samples[3].labels, samples[3].value) == ("envoy_server_uptime", (), 42.0)


def test_escapes_and_special_values() -> None:
    s = next(s for s in parse(PAGE) if s.name == "weird")
    assert s.label("path") == 'a "quoted" \\ value\nnext'
    assert s.value == math.inf
    assert math.isnan(parse_line("x NaN").value)


def test_bad_lines_are_skipped_not_fatal() -> None:
    names = [s.name for s in parse(PAGE)]
    assert "broken" not in names and "also" not in names
    assert len(names) == 5


def test_name_filter_is_exact() -> None:
    only = list(parse(PAGE, ["envoy_cluster_upstream_rq"]))
    assert [s.value for s in only] == [12.0, 3.0]  # not the _time_bucket histogram


@pytest.mark.parametrize("line", ["", "name", "1abc 2", 'x{a=b} 1', 'x{="v"} 1', "x{a=\"v\"}", "x abc"])
def test_malformed_lines_raise(line: str) -> None:
    with pytest.raises(ParseError):
        parse_line(line)
