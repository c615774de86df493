"""The README and docs/ are a front door that opens: every relative link and anchor resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def prose(text: str) -> str:
    """The text outside code blocks and code spans, where Markdown links live."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    return LINK.findall(prose(page.read_text(encoding="utf-8")))


def test_the_parser_reads_links_and_anchors_as_github_does(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# All cores: `--processes`\n## A\n## A\n```\n[not](a-link.md)\n```\n"
        "See [x](b.md#c) and ![img](i.png), not `[y](z.md)`.\n"
    )
    assert anchors(page) == {"all-cores---processes", "a", "a-1"}
    assert links(page) == ["b.md#c", "i.png"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT)}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
        elif not file.resolve().is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_fits_on_a_few_screens():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines; move the detail into docs/"


def test_the_readme_links_every_page_of_docs():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(README)}
    top = {p.resolve() for p in (ROOT / "docs").glob("*.md")}
    assert top - linked == set(), sorted(str(p.relative_to(ROOT)) for p in top - linked)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_user_docs_name_no_issues(page: Path):
    """Docs say what is, not which issue made it so: that history belongs in git."""
    text = page.read_text(encoding="utf-8")
    assert not re.findall(r"\bissues? #?\d+", text, re.IGNORECASE)


TEST_FILE = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*test_\w+\.py)\b")


def named_test_files(text: str) -> list[str]:
    """Every test file a page names (in prose, code spans or code blocks), as written."""
    return TEST_FILE.findall(text)


def problem_with_test_file(name: str, page: Path) -> str | None:
    """Why `name`, as `page` writes it, does not name a test file a reader can find (or None):
    a path from the repository's root (`tests/run/test_loop.py`), or a link relative to the page
    (`../tests/run/test_loop.py`), to a file that exists; a bare name is not enough."""
    if name.startswith("tests/"):
        file = ROOT / name
    elif name.startswith("."):
        file = (page.parent / name).resolve()
    else:
        return f"{name}: not a path from the repository's root (tests/...)"
    if not file.is_relative_to(ROOT / "tests") or not file.is_file():
        return f"{name}: no such test file"
    return None


def test_the_test_file_finder_reads_paths_and_bare_names():
    text = "See `tests/run/test_loop.py` and test_old.py; [x](../tests/a/test_b.py)."
    assert named_test_files(text) == [
        "tests/run/test_loop.py",
        "test_old.py",
        "../tests/a/test_b.py",
    ]
    page = ROOT / "docs" / "security" / "halts.md"
    assert problem_with_test_file("tests/run/test_loop.py", page) is None
    assert problem_with_test_file("../../tests/run/test_loop.py", page) is None
    assert "not a path" in problem_with_test_file("test_loop.py", page)
    assert "no such" in problem_with_test_file("tests/test_loop.py", page)  # where it was before
    assert "no such" in problem_with_test_file("../tests/run/test_loop.py", page)  # docs/tests/...


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_test_file_named_exists_at_its_path(page: Path):
    """A moved or renamed test file shows up here, not in a reader's failed search."""
    text = page.read_text(encoding="utf-8")
    wrong = [p for name in named_test_files(text) if (p := problem_with_test_file(name, page))]
    assert not wrong, f"{page.relative_to(ROOT)}: " + "; ".join(wrong)
