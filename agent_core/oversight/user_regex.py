"""Regexes a person wrote (a policy's `re:` patterns, `[sandbox] secret_patterns`), run with a
time limit.

The text they run on is the model's (a command line, a path, an argument) or a tool's output, so
it can be made for the pattern: `(a+)+$` takes exponential time on forty `a`s and a `!`, and
`.*rm.*-rf.*x` polynomial time on a long line. Python's `re` cannot be stopped, and it holds the
GIL while it runs: one such search froze the whole worker, every run in it and the halt watcher
too. The `regex` module stops a search after TIME_LIMIT_S (PatternTooSlow here) and lets the
process's other threads run meanwhile; a caller decides what an unfinished search means, always
the safe side (the policy denies, redaction withholds the text).
"""

from __future__ import annotations

from functools import lru_cache

import regex

TIME_LIMIT_S = 0.5


class PatternTooSlow(Exception):
    """A person's regex did not finish on the text it was given within TIME_LIMIT_S."""

    def __init__(self, pattern: str) -> None:
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        super().__init__(
            f"the pattern re:{shown} took longer than {TIME_LIMIT_S:g} s on this text (nested "
            "or repeated wildcards backtrack); simplify it in the policy file"
        )


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> regex.Pattern:
    """`pattern` compiled (regex.error, a ValueError, when it is not a valid regex)."""
    return regex.compile(pattern)


def problem(pattern: str) -> str | None:
    """Why `pattern` is not a valid regex, or None."""
    try:
        compiled(pattern)
    except regex.error as exc:
        return str(exc)
    return None


def replaced(pattern: str, replacement: str, text: str) -> str:
    """`text` with every match of `pattern` replaced; PatternTooSlow when it cannot be done in
    time."""
    try:
        return compiled(pattern).sub(
            lambda _: replacement, text, timeout=TIME_LIMIT_S, concurrent=True
        )
    except TimeoutError:
        raise PatternTooSlow(pattern) from None


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` finds a match in `text`; PatternTooSlow when it cannot tell in time."""
    try:
        return compiled(pattern).search(text, timeout=TIME_LIMIT_S, concurrent=True) is not None
    except TimeoutError:
        raise PatternTooSlow(pattern) from None
