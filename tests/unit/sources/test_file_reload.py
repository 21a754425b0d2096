"""A file edit re-reads only that file; results equal a full reload (issue #9)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pilot.model.findings import Finding
from pilot.model.resource import Resource
from pilot.sources import files as files_mod
from pilot.sources.files import FileSource
from pilot.sources.store import ConfigStore

VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: default}}
spec: {{hosts: [{name}], http: [{{route: [{{destination: {{host: {host}}}}}]}}]}}
"""


def _reject_bad(res: Resource) -> list[Finding]:
    return [Finding.about(res, "spec.http", "bad route")] if "bad" in str(res.spec) else []


def _state(store: ConfigStore) -> tuple[list[tuple[str, str]], list[str]]:
    return (sorted((r.name, str(r.spec)) for r in store.resources()),
            sorted(f.line() for f in store.findings()))


def _bump(f: Path, text: str) -> None:
    f.write_text(text)
    st = f.stat()  # make the change visible even within one mtime tick
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_reload_reads_only_changed_files_and_matches_a_full_load(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        (tmp_path / f"vs{i}.yaml").write_text(VS.format(name=f"r{i}", host=f"r{i}"))
    store = ConfigStore(_reject_bad)
    source = FileSource([tmp_path], store)
    source.load()
    changes: list[set] = []
    store.subscribe(changes.append)
    read: list[str] = []
    real = files_mod.load_file
    monkeypatch.setattr(files_mod, "load_file", lambda f, check=None: (read.append(f.name), real(f, check))[1])

    assert source.reload() == set() and read == [] and changes == []

    _bump(tmp_path / "vs1.yaml", VS.format(name="r1", host="other"))
    (tmp_path / "vs2.yaml").unlink()
    (tmp_path / "vs9.yaml").write_text(VS.format(name="r9", host="bad"))  # new and invalid
    _bump(tmp_path / "vs3.yaml", VS.format(name="r3", host="r3") + "  broken: [\n")  # no longer parses
    touched = source.reload()
    assert sorted(read) == ["vs1.yaml", "vs3.yaml", "vs9.yaml"]
    assert {Path(p).name for p in touched} == {"vs1.yaml", "vs2.yaml", "vs3.yaml", "vs9.yaml"}
    assert {k.name for k in changes[-1]} == {"r1", "r2"}

    fresh = ConfigStore(_reject_bad)
    fresh_source = FileSource([tmp_path], fresh)
    fresh_source.load()
    incremental, full = _state(store), _state(fresh)
    # The only difference a full load from scratch has: it never saw r3's good version, so cannot keep it.
    assert [n for n, _ in incremental[0]] == ["r0", "r1", "r3", "r4"]
    assert [n for n, _ in full[0]] == ["r0", "r1", "r4"]
    assert incremental[1] == full[1]
    assert any("bad route" in line for line in incremental[1])
    assert any("YAML syntax error" in line for line in incremental[1])

    # Fixing the files clears their findings, and an unchanged tree reloads nothing.
    _bump(tmp_path / "vs9.yaml", VS.format(name="r9", host="r9"))
    _bump(tmp_path / "vs3.yaml", VS.format(name="r3", host="r3"))
    read.clear()
    source.reload()
    assert sorted(read) == ["vs3.yaml", "vs9.yaml"] and store.findings() == []
    assert [n for n, _ in _state(store)[0]] == ["r0", "r1", "r3", "r4", "r9"]
    read.clear()
    assert source.reload() == set() and read == []


def test_watcher_named_file_is_reread_even_if_stat_looks_unchanged(tmp_path: Path) -> None:
    f = tmp_path / "vs.yaml"
    f.write_text(VS.format(name="r", host="a"))
    store = ConfigStore()
    source = FileSource([tmp_path], store)
    source.load()
    st = f.stat()
    f.write_text(VS.format(name="r", host="b"))  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert source.reload() == set()
    assert source.reload({str(f)}) == {str(f)}
    assert "'b'" in str(store.resources()[0].spec)


def test_watcher_hints_alone_drive_the_reload_without_walking_the_tree(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ns").mkdir()
    (tmp_path / "ns" / "a.yaml").write_text(VS.format(name="a", host="a"))
    (tmp_path / "ns" / "b.yaml").write_text(VS.format(name="b", host="b"))
    store = ConfigStore()
    source = FileSource([tmp_path], store)
    source.load()
    walked: list[int] = []
    real = files_mod.yaml_files
    monkeypatch.setattr(files_mod, "yaml_files", lambda paths: (walked.append(1), real(paths))[1])

    new = tmp_path / "ns" / "c.yaml"
    new.write_text(VS.format(name="c", host="c"))
    (tmp_path / "ns" / "a.yaml").unlink()
    hidden = tmp_path / ".hidden.yaml"
    hidden.write_text(VS.format(name="h", host="h"))
    touched = source.reload({str(new.resolve()), str((tmp_path / "ns" / "a.yaml").resolve()), str(hidden)})
    assert walked == []
    assert touched == {str(tmp_path / "ns" / "c.yaml"), str(tmp_path / "ns" / "a.yaml")}
    assert sorted(r.name for r in store.resources()) == ["b", "c"]
    # Origins are named exactly as a full scan names them, so later edits replace, never duplicate.
    assert {r.origin.path for r in store.resources()} == {str(tmp_path / "ns" / "b.yaml"), str(new)}

    # A hint that is not a YAML file (a directory, an editor's swap file) falls back to a full scan.
    (tmp_path / "ns" / "b.yaml").write_text(VS.format(name="b", host="bb"))
    source.reload({str(tmp_path / "ns")})
    assert walked == [1]
    assert "'bb'" in str(next(r for r in store.resources() if r.name == "b").spec)
