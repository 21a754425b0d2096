"""`pilot analyze` tables: nothing is cut off at any terminal width, and findings sort as people count."""

from __future__ import annotations

import io

from rich.console import Console

from pilot.analysis import sort_findings
from pilot.analysis.render import findings_table
from pilot.model.findings import Finding, Severity
from pilot.model.resource import Origin

LONG_PATH = "policies/a-rather-long-directory-name/with-a-subdirectory/destination-rule-all-subsets.yaml"
MESSAGE = ("The Subset v2-mysql-vm defined in the DestinationRule does not select any pods, which may lead "
           "to 503 UH (NoHealthyUpstream).")


def finding(name: str = "ratings-with-a-long-name", field: str = "spec.subsets[2]", message: str = MESSAGE,
            path: str = LONG_PATH, line: int = 29) -> Finding:
    return Finding(code="IST0173", severity=Severity.WARNING, message=message, kind="DestinationRule",
                   namespace="bookinfo-namespace", name=name, field=field, origin=Origin(path, line))


def columns(text: str) -> list[list[str]]:
    """The body cells of a rich table, each column's fragments in order."""
    cols: list[list[str]] = []
    for row in text.splitlines():
        if not row.startswith("│"):
            continue
        cells = [c.strip() for c in row.strip("│").split("│")]
        cols = cols or [[] for _ in cells]
        for i, c in enumerate(cells):
            if c:
                cols[i].append(c)
    return cols


def test_cells_fold_instead_of_being_cut_off_on_a_narrow_terminal() -> None:
    for width in (80, 100, 60):
        console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
        console.print(findings_table([finding()]))
        text = console.export_text()
        assert "…" not in text, text
        _level, _code, resource, field, message, where = columns(text)
        assert "".join(where) == f"{LONG_PATH}:29", text
        assert "".join(field) == "spec.subsets[2]"
        assert "".join(message).replace(" ", "") == MESSAGE.replace(" ", ""), text  # every character kept
        assert "".join(resource).replace(" ", "") == "DestinationRulebookinfo-namespace/ratings-with-a-long-name"


def test_numbers_sort_by_value_in_names_fields_messages_and_paths() -> None:
    shuffled = [finding(field="spec.http[23]"), finding(field="spec.http[8]"),
                finding(name="vs10"), finding(name="vs9"),
                finding(message="port 10080 is not declared"), finding(message="port 9080 is not declared"),
                finding(path="f10.yaml"), finding(path="f9.yaml")]
    ordered = sort_findings(shuffled)

    def before(a: Finding, b: Finding) -> bool:
        return ordered.index(a) < ordered.index(b)

    assert before(shuffled[1], shuffled[0])  # http[8] before http[23]
    assert before(shuffled[3], shuffled[2])  # vs9 before vs10
    assert before(shuffled[5], shuffled[4])  # port 9080 before port 10080
    assert before(shuffled[7], shuffled[6])  # f9.yaml before f10.yaml
