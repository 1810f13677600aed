"""The repository is self-contained: no file cites notes kept outside it, and every relative link resolves."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "runs", "data", "__pycache__", ".pytest_cache", "build", "dist"}

# Names of notes that live outside the repository.  Built from pieces so this file does not match itself.
_NOTES = ("S" + "PEC", "O" + "FFLINE", "D" + "ESIGN", "S" + "TYLE")
FORBIDDEN = re.compile(
    "|".join([*(re.escape(n + ".md") for n in _NOTES), re.escape(".." + "/shared"),
              re.escape("/work" + "/shared"), r"\b" + _NOTES[0] + r"\b"])
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def tracked_files() -> list[Path]:
    """Every tracked text file of the repository (every file outside SKIP_DIRS when git is missing)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        files = [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = []
    if not files:
        files = [p for p in ROOT.rglob("*") if not SKIP_DIRS & set(p.relative_to(ROOT).parts)]
    return [p for p in files if p.is_file() and b"\0" not in p.read_bytes()[:8192]]  # text only


def citations(text: str) -> list[str]:
    return [f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group()!r}" for m in FORBIDDEN.finditer(text)]


def test_the_pattern_catches_each_kind_of_citation():
    for cited in (*(n + ".md §2" for n in _NOTES), "see .." + "/shared/notes", _NOTES[0] + " §4"):
        assert citations(f"x\n{cited}\n"), cited
    assert not citations("STYLE = {}  # plot style\nHF_HUB_OFFLINE=1\nspecs.md\n")


def test_no_tracked_file_cites_notes_outside_the_repository():
    files = tracked_files()
    assert any(p.name == "method.md" for p in files) and any(p.suffix == ".py" for p in files)
    found = {}
    for path in files:
        hits = citations(path.read_bytes().decode("utf-8", errors="replace"))
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    assert not found, f"cite docs/ instead (write the fact there in the project's own words): {found}"


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", markdown).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def link_sources() -> list[tuple[str, Path, str]]:
    """(name, folder links resolve against, Markdown text) of README.md, docs/*.md and the notebooks."""
    sources = [(str(p.relative_to(ROOT)), p.parent, p.read_text())
               for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        sources.append((str(nb.relative_to(ROOT)), nb.parent, text))
    return sources


def broken_links(folder: Path, markdown: str) -> list[str]:
    """Relative links of ``markdown`` whose file or heading does not exist (web links are not checked)."""
    bad = []
    for target in LINK.findall(FENCE.sub("", markdown)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (folder / path).resolve() if path else None
        if file is not None and not file.exists():
            bad.append(f"{target}: no such file")
        elif anchor and (file is None or file.suffix == ".md"):
            if anchor not in anchors(file.read_text() if file is not None else markdown):
                bad.append(f"{target}: no heading with anchor #{anchor}")
    return bad


def test_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n## The losses (`w2clib.losses`)\n")
    text = "## Here\n[ok](a.md#the-losses-w2cliblosses) [web](https://x.org/y) [in](#here) [gone](b.md)\n"
    assert broken_links(tmp_path, text) == ["b.md: no such file"]
    assert broken_links(tmp_path, "[bad](a.md#nope) [x](#there)") == [
        "a.md#nope: no heading with anchor #nope", "#there: no heading with anchor #there"]
    assert broken_links(tmp_path, "```\n[not a link](zzz.md)\n```\n") == []


@pytest.mark.parametrize("name,folder,markdown", link_sources(), ids=[s[0] for s in link_sources()])
def test_every_relative_link_points_to_an_existing_file_and_heading(name, folder, markdown):
    bad = broken_links(folder, markdown)
    assert not bad, f"{name}: {bad}"
