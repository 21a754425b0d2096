"""Envoy matcher semantics over plain strings: StringMatcher, route HeaderMatcher, query parameters.

Regexes are RE2 (Envoy's `safe_regex`) and must match the whole value.
https://www.envoyproxy.io/docs/envoy/latest/api-v3/type/matcher/v3/string.proto
https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-headermatcher
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import re2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.type.matcher.v3 import regex_pb2, string_pb2


@lru_cache(maxsize=512)
def _compile(pattern: str, ignore_case: bool = False) -> Any:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    return re2.compile(pattern, options)


def regex_full_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _compile(pattern, ignore_case).fullmatch(value) is not None


def regex_matches(rm: regex_pb2.RegexMatcher, value: str) -> bool:
    return regex_full_match(rm.regex, value)


def string_matches(sm: string_pb2.StringMatcher, value: str) -> bool:
    kind = sm.WhichOneof("match_pattern")
    if kind == "safe_regex":
        return regex_full_match(sm.safe_regex.regex, value, sm.ignore_case)
    if kind is None:
        return False
    target = getattr(sm, kind)
    if sm.ignore_case:
        target, value = target.lower(), value.lower()
    if kind == "exact":
        return value == target
    if kind == "prefix":
        return value.startswith(target)
    if kind == "suffix":
        return value.endswith(target)
    if kind == "contains":
        return target in value
    return False  # custom matchers are extensions the simulator does not know


def _header_value_matches(hm: rc.HeaderMatcher, value: str) -> bool:
    kind = hm.WhichOneof("header_match_specifier")
    if kind == "string_match":
        return string_matches(hm.string_match, value)
    if kind == "exact_match":
        return value == hm.exact_match
    if kind == "prefix_match":
        return value.startswith(hm.prefix_match)
    if kind == "suffix_match":
        return value.endswith(hm.suffix_match)
    if kind == "contains_match":
        return hm.contains_match in value
    if kind == "safe_regex_match":
        return regex_matches(hm.safe_regex_match, value)
    if kind == "present_match":
        return hm.present_match
    if kind == "range_match":
        try:
            number = int(value)
        except ValueError:
            return False
        return hm.range_match.start <= number < hm.range_match.end
    return True  # no specifier: the header must be present


def header_matches(hm: rc.HeaderMatcher, headers: Mapping[str, str]) -> bool:
    """One HeaderMatcher against lower-case request headers.

    A missing header never matches a value matcher, inverted or not, unless
    `treat_missing_header_as_empty`; `present_match` is the one way to test for absence.
    """
    value = headers.get(hm.name.lower())
    if value is None and not hm.treat_missing_header_as_empty:
        if hm.WhichOneof("header_match_specifier") == "present_match":
            return (not hm.present_match) != hm.invert_match
        return False
    return _header_value_matches(hm, value or "") != hm.invert_match


def query_parameter_matches(qm: rc.QueryParameterMatcher, params: Mapping[str, str]) -> bool:
    value = params.get(qm.name)
    if qm.WhichOneof("query_parameter_match_specifier") == "string_match":
        return value is not None and string_matches(qm.string_match, value)
    # present_match (or nothing set): the parameter must be there
    return value is not None
