"""What a check's output says, besides its exit code: a test run piped to `tail` or `tee`, or
followed by `|| true` or `; echo done`, exits 0 whatever its tests did, but its summary still
says "1 failed". And which runs of a check were narrowed to some of its tests (`-k`,
`--deselect`, one test named), so a narrowed run that passes after a full one failed is not
taken for the whole suite passing."""

from __future__ import annotations

import re
import shlex

# Summary lines of test runners that report failures (a count above zero, or a failed verdict).
_FAILURE_SUMMARY = re.compile(
    r"^[=\s]*(?:\d+ \w+, )*[1-9]\d* (?:failed|errors?)\b"  # pytest: "1 failed, 2 passed in 0.1s"
    r"|^FAILED \((?:failures|errors)=\d+"  # unittest
    r"|^--- FAIL: |^FAIL\b"  # go test
    r"|^test result: FAILED"  # cargo test
    r"|^Tests?:\s+[1-9]\d* failed"  # jest, vitest
    r"|^\s*[1-9]\d* failing\s*$"  # mocha
    r"|^not ok \d+|^(?:#|ℹ) fail [1-9]"  # TAP, node --test
    r"|^npm ERR! Test failed"
    r"|^make: \*\*\* .*Error \d+",
    re.M,
)
# How many tests a run says passed: pytest, unittest (with its OK), jest, node --test, cargo.
_PASSED_COUNT = re.compile(
    r"^[=\s]*(?:\d+ \w+, )*(\d+) passed\b|^Ran (\d+) tests?\b(?=[\s\S]*^OK\b)"
    r"|^Tests:\s+(\d+) passed|^(?:#|ℹ) pass (\d+)|^test result: ok\. (\d+) passed",
    re.M,
)
# Options that run some of a suite's tests only (not `-m`: `python -m unittest` is no marker).
_SELECTING = frozenset(
    "-k --deselect --ignore --ignore-glob --lf --last-failed --sw --stepwise --testNamePattern "
    "--testPathPattern --grep -run --skip --exclude --only-failures".split()
)
_ONE_TEST = re.compile(r"::|(^|\.)\w*[Tt]est\w*\.test\w*$")


def reported_failure(output: str) -> str:
    """The line of a check's output that reports failed tests ("1 failed, 3 passed"), or ""."""
    match = _FAILURE_SUMMARY.search(output)
    if match is None:
        return ""
    end = output.find("\n", match.start())
    return " ".join(output[match.start() : end if end >= 0 else None].split())[:120]


def passed_count(output: str) -> int | None:
    """How many tests a check's output says passed, when it says."""
    counts = [int(next(g for g in m.groups() if g)) for m in _PASSED_COUNT.finditer(output)]
    return counts[-1] if counts else None


def selection(command: str) -> frozenset[str]:
    """What narrows a check's command line to some of its tests: the selecting options with
    their values, and tests named one by one (`test_x.py::test_a`, `test_x.CalcTest.test_a`)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    found: set[str] = set()
    for index, word in enumerate(words):
        option = word.split("=", 1)[0]
        if option in _SELECTING:
            value = words[index + 1] if "=" not in word and index + 1 < len(words) else ""
            found.add(f"{word} {value}".strip())
        elif not word.startswith("-") and _ONE_TEST.search(word):
            found.add(word)
    return frozenset(found)


def wider_failure(last: str, failed: list[str]) -> int | None:
    """Which of the `failed` runs of a check (latest last) ran more than `last` did, which passed
    narrowed (`-k`, `--deselect`, one test named): a claim then rests on a narrower run than
    the one that failed. None when `last` was not narrowed, or no failed run was wider."""
    narrow = selection(last)
    if not narrow:
        return None
    wider = [i for i, command in enumerate(failed) if selection(command) != narrow]
    return wider[-1] if wider else None


def fallback_ran(command: str, output: str) -> str:
    """The message of a `|| echo MESSAGE` fallback when the output shows it: the command before
    it failed, whatever the line's exit code says ("" when there is none, or it did not run)."""
    for match in _FALLBACK.finditer(command):
        said = match.group(2).strip()
        if len(said) >= 3 and said in output:
            return said
    return ""


_FALLBACK = re.compile(r"\|\|\s*(?:echo|printf)\s+(?:-\w+\s+)*(['\"]?)([^'\";&|]+)\1")
