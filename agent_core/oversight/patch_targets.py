"""The files a command writes that are named inside a file it reads, not on its command line:
`patch -p1 < fix.diff`, `git apply fix.diff` (the patch's `+++`, `diff --git`, `rename to`
lines), `tar xf a.tar`, `unzip a.zip` (the archive's members). Unread, a patch or an archive that
rewrites `.git/hooks/pre-commit` or `package.json` was a plain write; the rules now see those
names as the command's own paths. One that cannot be read where the call is decided (piped in,
not made yet, too large) is a doubt: the call asks.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

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
        path = _inside(root, word.text) if word.text not in ("apply", "am") else None
        try:
            if path is not None and os.path.getsize(path) <= MAX_PATCH:
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
MAX_UNPACKED = 256 << 20  # bytes of a compressed tar read through to list it (a bomb: asks)
MAX_MEMBERS = 20_000
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
        path = _inside(root, word.text)
        try:
            if path is None or os.path.getsize(path) > MAX_ARCHIVE:
                continue
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    names += archive.namelist()[:MAX_MEMBERS]
            else:
                names += _tar_members(path)
            listed = True
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, _TooLarge):
            continue
    if not listed:
        what = f"`{invocation.program}` extracts an archive not listable here"
        return [], f"{what}; what it writes is not known"
    return list(dict.fromkeys(n for n in names if n.strip("./"))), None


def _inside(root: Path | None, text: str) -> Path | None:
    """A regular file the command names inside the workspace (where a link really leads is
    checked too: onloop never reads a host file, a FIFO or a device for the sandbox's command)."""
    if root is None or not text or text.startswith(("/", "~")):
        return None
    path = Path(os.path.realpath(root / text))
    return path if path.is_relative_to(root) and path.is_file() else None


class _TooLarge(Exception):
    pass


class _Bounded(io.RawIOBase):
    """A stream that fails past `limit` bytes (a compressed tar that unpacks to gigabytes)."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream, self.left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.stream.read(min(len(buffer), self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise _TooLarge
        buffer[: len(data)] = data
        return len(data)


_OPENERS: dict[bytes, Callable[..., Any]] = {
    b"\x1f\x8b": gzip.open,
    b"BZh": bz2.open,
    b"\xfd7zXZ": lzma.open,
}


def _tar_members(path: Path) -> list[str]:
    """A tar's member names, read as a stream with what it unpacks to bounded."""
    with open(path, "rb") as raw:
        head = raw.read(6)
    opener = next((o for magic, o in _OPENERS.items() if head.startswith(magic)), open)
    with opener(path, "rb") as unpacked:
        bounded = io.BufferedReader(_Bounded(unpacked, MAX_UNPACKED))
        with tarfile.open(fileobj=bounded, mode="r|") as archive:
            return [member.name for _, member in zip(range(MAX_MEMBERS), archive, strict=False)]
