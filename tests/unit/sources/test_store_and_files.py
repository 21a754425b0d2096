from __future__ import annotations

from pathlib import Path

from pilot.model.findings import Finding
from pilot.model.resource import Resource
from pilot.sources.store import ConfigStore
from pilot.sources.yaml_files import load_paths

GOOD = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: default}
spec: {hosts: [r], http: [{route: [{destination: {host: r}}]}]}
"""


def _reject_bad(res: Resource) -> list[Finding]:
    if "bad" in str(res.spec):
        return [Finding.about(res, "spec.http", "bad route")]
    return []


def test_documents_carry_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("# comment\n" + GOOD + "---\napiVersion: v1\nkind: Frobnicator\nmetadata: {name: x}\n")
    resources, findings, broken = load_paths([tmp_path])
    assert [(r.kind, r.origin.line) for r in resources] == [("VirtualService", 2)]
    assert [f.message for f in findings] == ["unknown kind Frobnicator: skipped"]
    assert findings[0].origin.line == 7 and not broken


def test_yaml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(GOOD + "---\nkind: [unclosed\n")
    _resources, findings, broken = load_paths([tmp_path])
    assert findings[0].is_error and findings[0].origin.line >= 6
    assert broken == {str(tmp_path / "b.yaml")}


def test_store_keeps_last_good_version_of_an_invalid_resource(tmp_path: Path) -> None:
    store = ConfigStore(_reject_bad)
    changes: list[set] = []
    store.subscribe(changes.append)
    f = tmp_path / "vs.yaml"
    f.write_text(GOOD)
    store.replace_all("files", load_paths([tmp_path])[0])
    assert [r.name for r in store.resources()] == ["r"]
    good = store.resources()[0]
    f.write_text(GOOD.replace("host: r}", "host: bad}"))
    store.replace_all("files", load_paths([tmp_path])[0])
    assert store.resources()[0] is good
    assert [x.field for x in store.findings()] == ["spec.http"]
    assert changes[-1] == set()  # nothing changed for the proxies


def test_store_keeps_resources_of_a_file_that_no_longer_parses(tmp_path: Path) -> None:
    store = ConfigStore()
    f = tmp_path / "vs.yaml"
    f.write_text(GOOD)
    store.replace_all("files", load_paths([tmp_path])[0])
    f.write_text(GOOD + "  broken: [\n")
    resources, findings, broken = load_paths([tmp_path])
    store.replace_all("files", resources, findings, keep_missing_from=broken)
    assert [r.name for r in store.resources()] == ["r"]
    f.unlink()
    store.replace_all("files", load_paths([tmp_path])[0])
    assert store.resources() == []
