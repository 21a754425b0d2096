"""Bad input: well-formed documents (fuzz_kinds) broken in the ways users and tools break them.

Value mutations pick any node of the document (metadata and apiVersion included): a wrong type, null,
a missing or unknown field, out-of-range numbers, bad regexes, huge or deeply nested values, unicode,
and values YAML gives odd Python types (dates, bytes, sets, non-string keys). Text mutations act on the
rendered file: JSON instead of YAML, a byte-order mark, CRLF, tabs, duplicate keys, aliases, unsafe
tags, a truncated file, invalid UTF-8, `kind: List` wrappers and several documents in one file.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import strategies as st

from pilot.testing.fuzz_kinds import Doc, any_document

Strategy = st.SearchStrategy
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

BAD_REGEXES = ("(", "[a-", "*x", "a**", "(?<=x)y", "x{2000}", "\\", "(?P<n>a)(?P<n>b)", "[z-a]", "(?!a)",
               r"\1(a)", "a{,5", "(?i", "[[:alpha:]", "\\p{Nope}")
UNICODE = ("héllo", "日本.example", "💥", "a\u200bb", "a\u0000b", "\uff21\uff22", "\u202eevil", "İstanbul", "ß", "\x7f",
           "reviews\n", " reviews", "é.example.com")
NUMBERS = (-1, 0, 2**31, 2**32, 2**63, -(2**63), 10**30, 1e308, float("inf"), float("-inf"), float("nan"), 0.5,
           -0.0001, 65536, 1e-9)


def _nodes(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(container, key) of every value inside `value`, depth first."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in list(items):
        out.append((value, key))
        _nodes(child, out)
    return out


def _deep(depth: int) -> Any:
    node: Any = "bottom"
    for i in range(depth):
        node = {"a": node} if i % 2 else [node]
    return node


_wrong_type = st.one_of(st.integers(-5, 5), st.floats(allow_nan=True), st.booleans(), st.none(), st.just([]),
                        st.just({}), st.lists(st.integers(), max_size=2), st.just({"x": 1}), st.text(max_size=5),
                        st.just("80"), st.just("true"))
_odd_value = st.sampled_from((datetime.date(2024, 1, 1), datetime.datetime(2024, 1, 1, 12, 0), b"\x00\xffbytes",
                              {"a"}, {1: "int key"}, {None: "null key"}, {True: "bool key"},
                              {datetime.date(2024, 1, 1): "date key"}, {"": "empty key"}))
_huge = st.one_of(st.integers(1000, 70000).map(lambda n: "a" * n), st.integers(50, 120).map(_deep),
                  st.integers(200, 2000).map(lambda n: list(range(n))),
                  st.integers(100, 400).map(lambda n: {f"k{i}": i for i in range(n)}))
_typo = st.sampled_from(("wieght", "hsots", "Host", "spec", "metadata", "unknownField", "x-extra", "route ", "é"))

REPLACEMENTS: dict[str, Strategy[Any]] = {
    "wrong_type": _wrong_type,
    "number": st.sampled_from(NUMBERS),
    "regex": st.sampled_from(BAD_REGEXES),
    "unicode": st.sampled_from(UNICODE),
    "huge": _huge,
    "odd": _odd_value,
    "empty": st.sampled_from(("", [], {}, " ", "*", ".", "/")),
}
OPERATIONS = (*REPLACEMENTS, "delete", "unknown_field", "duplicate")
_TARGETS: dict[str, type | tuple[type, ...]] = {"number": (int, float), "regex": str, "unicode": str}


@st.composite
def mutated_document(draw: st.DrawFn, docs: Strategy[Doc] | None = None, max_mutations: int = 3) -> Doc:
    """A generated document with 1..max_mutations value mutations."""
    doc = copy.deepcopy(draw(docs if docs is not None else any_document()))
    for _ in range(draw(st.integers(1, max_mutations))):
        op = draw(st.sampled_from(OPERATIONS))
        nodes = _nodes(doc, [])
        # Numbers replace numbers and regexes strings, where validation has to catch them.
        wanted = _TARGETS.get(op)
        typed = [n for n in nodes if wanted and isinstance(n[0][n[1]], wanted) and not isinstance(n[0][n[1]], bool)]
        nodes = typed or nodes
        if not nodes:
            break
        container, key = draw(st.sampled_from(nodes))
        if op == "delete":
            del container[key]
        elif op == "unknown_field":
            target = container[key] if isinstance(container[key], dict) else container
            if isinstance(target, dict):
                target[draw(_typo)] = copy.deepcopy(draw(_wrong_type))
        elif op == "duplicate":
            if isinstance(container, list):
                container.append(copy.deepcopy(container[key]))
        else:
            container[key] = copy.deepcopy(draw(REPLACEMENTS[op]))  # drawn values are shared
    return doc


def _yaml(docs: list[Any]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def _json(docs: list[Any]) -> str:
    return json.dumps(docs[0], default=str)


# 8^4 list items from a few lines: YAML's "billion laughs", small enough to finish.
_ALIAS_BOMB = ("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
               "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n---\n")


def _text_tweak(name: str) -> Callable[[str], str | bytes]:
    tweaks: dict[str, Callable[[str], str | bytes]] = {
        "plain": lambda t: t,
        "bom": lambda t: "\ufeff" + t,
        "crlf": lambda t: t.replace("\n", "\r\n"),
        "tabs": lambda t: t.replace("  ", "\t", 1),
        "duplicate_key": lambda t: t + "kind: Duplicate\n" if t.startswith("apiVersion") else t + "a: 1\na: 2\n",
        "truncated": lambda t: t[: max(1, len(t) * 2 // 3)],
        "bad_utf8": lambda t: t.encode() + b"\n# \xff\xfe\xc3\x28\n",
        "latin1": lambda t: t.encode("latin-1", errors="replace"),
        "unsafe_tag": lambda t: t + "---\n!!python/object/apply:os.system [echo hi]\n",
        "aliases": lambda t: "base: &a [1, 2]\nrefs: [*a, *a, *a]\n---\n" + t,
        "alias_bomb": lambda t: _ALIAS_BOMB + t,
        "garbage": lambda t: t + "\n: : - ]\n",
        "scalar_docs": lambda t: t + "---\njust a string\n---\n- a\n- list\n---\n42\n",
        "document_end": lambda t: t + "...\n",
        "null_bytes": lambda t: t.replace(":", ":\x00", 1),
    }
    return tweaks[name]


TEXT_TWEAKS = ("plain", "bom", "crlf", "tabs", "duplicate_key", "truncated", "bad_utf8", "latin1", "unsafe_tag",
               "aliases", "alias_bomb", "garbage", "scalar_docs", "document_end", "null_bytes")


@st.composite
def config_file(draw: st.DrawFn, max_docs: int = 3, mutate: float = 0.5, tweak: float = 0.2) -> tuple[str | bytes, int]:
    """A config file's content and its number of documents: several well-formed and mutated documents,
    sometimes in a `kind: List`, as YAML or JSON, sometimes tweaked as text."""
    count = draw(st.integers(1, max_docs))
    docs: list[Any] = [draw(mutated_document()) if draw(st.floats(0, 1)) < mutate else draw(any_document())
                       for _ in range(count)]
    if draw(st.integers(0, 9)) == 0:
        docs = [{"apiVersion": "v1", "kind": "List", "items": docs}]
    try:
        text = _json(docs) if len(docs) == 1 and draw(st.integers(0, 9)) == 0 else _yaml(docs)
    except (ValueError, TypeError, yaml.YAMLError):  # a value the emitter refuses (date keys in JSON)
        text = _yaml([{"apiVersion": "v1"}])
    name = draw(st.sampled_from(TEXT_TWEAKS)) if draw(st.floats(0, 1)) < tweak else "plain"
    return _text_tweak(name)(text), count
