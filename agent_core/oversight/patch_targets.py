"""The files a patch changes, read from the patch itself: `patch -p1 < fix.diff` and `git apply
fix.diff` name no file they write on their command line, so a patch that rewrites
`.git/hooks/pre-commit` or `package.json` was a plain write. Its `+++`, `diff --git`, `rename to`
lines name them; the rules see those names as the command's own paths. A patch that cannot be
read where the call is decided (piped in, not written yet, too large) is a doubt: the call asks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from agent_core.oversight.shell_commands import Invocation

MAX_PATCH = 2 << 20  # bytes of a patch file read; a larger one is a doubt
_NAMED = re.compile(
    r"^(?:\+\+\+ |--- |\*\*\* |Index: |rename (?:from|to) |copy (?:from|to) )(\S+)|"
    r"^diff --git (\S+) (\S+)",
    re.MULTILINE,
)


def applies_patch(invocation: Invocation) -> bool:
    operands = invocation.operands
    return invocation.program == "patch" or (
        invocation.program == "git" and operands[:1] in (("apply",), ("am",))
    )


def patched_files(invocation: Invocation, root: Path | None) -> tuple[list[str], str | None]:
    """The files the patch `invocation` applies changes (each as named, and without its first
    folder: `b/package.json` is `package.json` under -p1), and a doubt when it cannot be read."""
    if not applies_patch(invocation):
        return [], None
    texts = [invocation.stdin] if invocation.stdin is not None else []
    for word in invocation.paths:
        if word.text in ("apply", "am") or root is None:
            continue
        path = root / word.text
        try:
            if path.is_file() and os.path.getsize(path) <= MAX_PATCH:
                texts.append(path.read_text(errors="replace"))
        except OSError:
            continue
    if not texts:
        return (
            [],
            f"`{invocation.program}` applies a patch not readable here; what it changes is not known",
        )
    named = [n for text in texts for match in _NAMED.finditer(text) for n in match.groups() if n]
    found: list[str] = []
    for name in named:
        name = name.strip('"')
        if name != "/dev/null":
            found += [name, name.split("/", 1)[1]] if "/" in name else [name]
    return list(dict.fromkeys(found)), None
