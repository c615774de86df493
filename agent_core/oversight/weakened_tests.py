"""Whether a rewrite of a test file weakens it: the agent's shortcut to a green run.

Agents asked to make a failing test pass sometimes skip it, delete it, or empty its assertions.
A write that replaces an existing test file with one that has fewer tests, fewer assertions, more
skip or xfail markers, or more assertions that cannot fail is its own concern: the policy asks
about it at every autonomy level (class `guarded`). A new test file, or one that only grows,
is an ordinary write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Test files by name, in the languages agents meet most.
_TEST_FILE = re.compile(
    r"(^|/)(test_[^/]*\.py|[^/]*_test\.(py|go|rb|exs)|[^/]*\.(test|spec)\.[cm]?[jt]sx?"
    r"|[^/]*Tests?\.(java|kt|cs|swift)|conftest\.py)$"
    r"|(^|/)(tests?|__tests__|spec)/[^/]+\.(py|[cm]?[jt]sx?|go|rb|rs|java|kt)$"
)
_TESTS = re.compile(
    r"^\s*(async\s+)?def\s+test\w*\s*\(|^\s*func\s+Test\w*\(|^\s*#\[test\]"
    r"|\b(it|test)\s*\(\s*['\"`]|^\s*public\s+void\s+test\w*\(|@Test\b",
    re.MULTILINE,
)
_ASSERTS = re.compile(
    r"\bassert\w*\b|\bexpect\s*\(|\bt\.(Error|Fatal|Fail)\w*\(|\bpytest\.raises\(",
)
_SKIPS = re.compile(
    r"\bskip(If|Unless)?\b|\bxfail\b|\b(xit|xdescribe|xtest)\s*\(|\.(skip|todo)\s*\(|\bt\.Skip"
    r"|#\[ignore\]|@Disabled\b|@Ignore\b",
)
_HOLLOW = re.compile(
    r"\bassert\s+\(?\s*(True|1|not\s+False)\s*\)?\s*(#.*)?$|\bexpect\s*\(\s*true\s*\)\s*\.\s*toBe\s*\(\s*true\s*\)"
    r"|\bassert(True|_true)\s*\(\s*(True|1)\s*\)|\bassertEqual\(\s*(\w+)\s*,\s*\4\s*\)"
    r"|^\s*exit\s+0\s*$|\|\|\s*(true|:)\s*$|\bset\s+\+e\b"
    r"|\|\|\s*true\b|^\s*def\s+test\w*\([^)]*\)\s*:\s*(pass|\.\.\.)\s*$"
    r"|^\s*def\s+test\w*\([^)]*\)\s*:\s*\n\s+(pass|\.\.\.|return)\s*$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Counts:
    tests: int
    asserts: int
    skips: int
    hollow: int


def is_test_file(path: str) -> bool:
    return _TEST_FILE.search(path.replace("\\", "/")) is not None


def counts(text: str) -> Counts:
    return Counts(
        len(_TESTS.findall(text)),
        len(_ASSERTS.findall(text)),
        len(_SKIPS.findall(text)),
        len(_HOLLOW.findall(text)),
    )


def weakens(path: str, old: str | None, new: str, *, check_script: bool = False) -> str | None:
    """Why replacing `old` (None: a new file) with `new` at `path` weakens its tests, or None.
    `check_script`: the file is a script a check runs (build.sh), judged like a test file."""
    if old is None or not (check_script or is_test_file(path)):
        return None
    before, after = counts(old), counts(new)
    lost = []
    if after.tests < before.tests:
        lost.append(f"{before.tests - after.tests} of its {before.tests} tests removed")
    if after.asserts < before.asserts:
        lost.append(f"{before.asserts - after.asserts} of its {before.asserts} assertions removed")
    if after.skips > before.skips:
        lost.append(f"{after.skips - before.skips} skip or xfail markers added")
    if after.hollow > before.hollow:
        lost.append(f"{after.hollow - before.hollow} assertions that cannot fail added")
    if not lost:
        return None
    return f"rewrites the test file {path} weaker ({'; '.join(lost)})"
