"""Nothing may depend on where the repo is checked out, and what the docs point at must be in the repo
(a fresh clone has no ../shared or main checkout next to it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in out.decode().split("\0") if name]


def test_no_tracked_file_names_an_absolute_path_into_a_checkout() -> None:
    # Built from parts so that this file does not match itself.
    needles = {"/" + "work" + "/", str(REPO) + "/"}
    if len(REPO.parent.parts) > 2:  # /home/me/src/meshpilot: /home/me/src/ too, but not a bare /tmp/
        needles.add(str(REPO.parent) + "/")
    offenders = []
    for path in tracked_files():
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary
        for n, line in enumerate(text.splitlines(), 1):
            if any(needle in line for needle in needles):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "absolute paths into a checkout:\n" + "\n".join(offenders)


_LINK = re.compile(r"\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`([^`\s]+)`")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def mentioned_paths(text: str, top_level: set[str]) -> set[str]:
    """Relative link targets, and paths in code spans or code blocks that point into the repo (start with
    ./ or ../, or with one of its top-level entries), or name a Markdown file."""
    found = {t.split("#")[0] for t in _LINK.findall(text) if "://" not in t and not t.startswith(("#", "mailto:"))}
    tokens = _CODE_SPAN.findall(text)
    for block in _FENCE.findall(text):
        tokens += block.split()
    for tok in tokens:
        tok = tok.strip("'\",;()[]")
        if not tok or any(c in tok for c in "*{}<>$~=|") or "://" in tok:
            continue
        first = tok.split("/", 1)[0]
        if tok.startswith(("./", "../")) or ("/" in tok and first in top_level) or \
                (tok.endswith(".md") and "/" not in tok):
            found.add(tok)
    return {f for f in found if f}


def test_every_relative_path_in_readme_and_docs_exists() -> None:
    files = tracked_files()
    top_level = {p.relative_to(REPO).parts[0] for p in files}
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    missing = []
    for doc in docs:
        for target in sorted(mentioned_paths(doc.read_text(), top_level)):
            # Links resolve against the document; code spans in README are relative to the repo root.
            candidates = {(doc.parent / target).resolve(), (REPO / target).resolve()}
            if not any(c.exists() and c.is_relative_to(REPO) for c in candidates):
                missing.append(f"{doc.relative_to(REPO)}: {target}")
    assert not missing, "paths that a fresh clone does not have:\n" + "\n".join(missing)


def test_the_link_checker_sees_links_code_spans_and_code_blocks() -> None:
    text = "see [cli](docs/cli.md) and `../shared/x.md`, `policies/a.yaml`, `pilot serve`, `my-mesh/`\n" \
           "```\n.venv/bin/pilot validate policies/b/ &\n```\n[web](https://istio.io/x)"
    assert mentioned_paths(text, {"docs", "policies", "pilot"}) == {
        "docs/cli.md", "../shared/x.md", "policies/a.yaml", "policies/b/"}
