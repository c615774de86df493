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

from agent_core.oversight import user_regex


def segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s not in ("", "."))


def path_matches(pattern: str, path: str) -> bool:
    """Whether `pattern` names `path` (a canonical path, or a shell word made canonical)."""
    if pattern.startswith("re:"):
        return user_regex.search(pattern[3:], path)
    anchored, parts = _compiled(pattern)
    names = segments(path)
    if anchored:
        return not path.startswith(("/", "~")) and _match(parts, 0, names, 0)
    return any(_match(parts, 0, names, start) for start in range(len(names) + 1))


def any_path_matches(patterns: tuple[str, ...], path: str) -> bool:
    """Whether any of `patterns` names `path`: path_matches for many patterns, in one regex."""
    anchored, loose, regexes = _combined(patterns)
    if any(user_regex.search(r, path) for r in regexes):
        return True
    joined = "/".join(segments(path))
    if loose is not None and loose.search(joined):
        return True
    return anchored is not None and not path.startswith(("/", "~")) and bool(anchored.match(joined))


@lru_cache(maxsize=256)
def _combined(patterns: tuple[str, ...]) -> tuple[re.Pattern | None, re.Pattern | None, tuple]:
    """The glob patterns as two regexes (anchored, at any depth) over a path's segments joined
    by '/', and the `re:` patterns."""
    regexes = tuple(p[3:] for p in patterns if p.startswith("re:"))
    globs = [p for p in patterns if not p.startswith("re:")]
    anchored = [_glob_regex(segments(p)) for p in globs if p.startswith("/")]
    loose = [_glob_regex(segments(p)) for p in globs if not p.startswith("/")]
    return (
        re.compile(f"(?:{'|'.join(anchored)})(?:/|$)", re.S) if anchored else None,
        re.compile(f"(?:^|/)(?:{'|'.join(loose)})(?:/|$)", re.S) if loose else None,
        regexes,
    )


def _glob_regex(parts: tuple[str, ...]) -> str:
    if parts and all(part == "**" for part in parts):
        return "[^/]+"  # `**` (or `/**`) names every path, as path_matches has it
    while parts and parts[-1] == "**":
        parts = parts[:-1]  # a folder covers what it holds: `a/**` is `a`
    out = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            out.append("(?:[^/]+/)*")
        else:
            out.append(_segment_regex(part) + ("" if last else "/"))
    return "".join(out) or "(?!)"


def _segment_regex(part: str) -> str:
    """One glob segment as a regex that never crosses '/' (as fnmatchcase on one segment)."""
    out, i = [], 0
    while i < len(part):
        char = part[i]
        i += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            j = i + (1 if i < len(part) and part[i] == "!" else 0)
            j += 1 if j < len(part) and part[j] == "]" else 0
            while j < len(part) and part[j] != "]":
                j += 1
            if j >= len(part):
                out.append("\\[")
                continue
            body = part[i:j].replace("\\", "\\\\")
            i = j + 1
            if body.startswith("!"):
                out.append(f"[^/{body[1:]}]")
            else:
                out.append(f"(?!/)[{body}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


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
