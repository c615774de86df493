"""The files a command writes that are named inside a file it reads, not on its command line:
`patch -p1 < fix.diff`, `git apply fix.diff` (the patch's `+++`, `diff --git`, `rename to`
lines), `tar xf a.tar`, `unzip a.zip` (the archive's members). Unread, a patch or an archive that
rewrites `.git/hooks/pre-commit` or `package.json` was a plain write; the rules now see those
names as the command's own paths. One that cannot be read where the call is decided (piped in,
not made yet, too large) is a doubt: the call asks.
"""

from __future__ import annotations

import os
import re
import tarfile
import zipfile
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


# -- archives: what `tar x` and `unzip` extract ------------------------------------------------
MAX_ARCHIVE = 20 << 20  # bytes of an archive listed when the call is decided; a larger one asks
_TARS = ("tar", "bsdtar", "gtar")


def _extracts(invocation: Invocation) -> bool:
    program, flags, operands = invocation.program, invocation.flags, invocation.operands
    if program in _TARS:
        bundled = bool(operands) and re.fullmatch(r"[A-Za-wyz]*x[A-Za-z]*", operands[0]) is not None
        return "-x" in flags or bundled and not flags & {"-c", "-t", "-r", "-u", "-A", "-d"}
    return program == "unzip" and not flags & {"-l", "-t", "-v", "-p", "-Z", "-z"}


def extracted_files(invocation: Invocation, root: Path | None) -> tuple[list[str], str | None]:
    """The members an extracting `tar` or `unzip` writes (`tar xf a.tar` names none of them:
    a hook or a manifest inside was a plain write), and a doubt when the archive cannot be
    listed where the call is decided (piped in, made by the same line, too large)."""
    if not _extracts(invocation):
        return [], None
    names: list[str] = []
    listed = False
    for word in invocation.paths:
        if root is None:
            break
        path = root / word.text
        try:
            if not path.is_file() or os.path.getsize(path) > MAX_ARCHIVE:
                continue
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    names += archive.namelist()
            elif tarfile.is_tarfile(path):
                with tarfile.open(path) as archive:
                    names += archive.getnames()
            else:
                continue
            listed = True
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
            continue
    if not listed:
        what = f"`{invocation.program}` extracts an archive not listable here"
        return [], f"{what}; what it writes is not known"
    return list(dict.fromkeys(n for n in names if n.strip("./"))), None
