"""Path patterns of policy rules, matched against canonical workspace-relative paths.

A pattern is a glob over path segments: `*`, `?` and `[...]` stay inside one segment, `**` spans
any number of them. It matches at any depth (`.env` matches `app/.env`) unless it starts with `/`
(anchored at the workspace root: `/src/*.py`). A pattern that names a folder also covers what is
inside it (`.ssh` and `.ssh/` match `.ssh/id_ed25519`). `re:REGEX` searches the canonical path.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache


def segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s not in ("", "."))


def path_matches(pattern: str, path: str) -> bool:
    """Whether `pattern` names `path` (a canonical path, or a shell word made canonical)."""
    if pattern.startswith("re:"):
        return re.search(pattern[3:], path) is not None
    anchored, parts = _compiled(pattern)
    names = segments(path)
    if anchored:
        return not path.startswith(("/", "~")) and _match(parts, 0, names, 0)
    return any(_match(parts, 0, names, start) for start in range(len(names) + 1))


def glob_may_match(pattern: str, glob: str) -> bool:
    """Whether the shell glob `glob` could expand to a path `pattern` names (no files to look at).

    Each segment is compared both ways (the glob against the pattern's text, the pattern against
    the glob's text), so `.e*` may be `.env` and `*.pem` may be `k*`; as in the shell, a glob
    segment must start with '.' to reach a dotfile.
    """
    if pattern.startswith("re:"):
        return path_matches(pattern, glob)
    anchored, parts = _compiled(pattern)
    names = segments(glob)
    starts = [0] if anchored else range(len(names) + 1)
    return any(_match(parts, 0, names, start, either_way=True) for start in starts)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> tuple[bool, tuple[str, ...]]:
    return pattern.startswith("/"), segments(pattern)


def _match(
    parts: tuple[str, ...], p: int, names: tuple[str, ...], n: int, either_way: bool = False
) -> bool:
    if p == len(parts):
        return True  # a pattern naming a folder covers what is inside it
    if parts[p] == "**":
        return any(_match(parts, p + 1, names, k, either_way) for k in range(n, len(names) + 1))
    if n == len(names):
        return False
    if not _segment(parts[p], names[n], either_way):
        return False
    return _match(parts, p + 1, names, n + 1, either_way)


def _segment(part: str, name: str, either_way: bool) -> bool:
    if fnmatchcase(name, part):
        return True
    if not either_way:
        return False
    if part.startswith(".") and not name.startswith("."):
        return False  # the shell's * does not reach dotfiles
    return fnmatchcase(part, name)
