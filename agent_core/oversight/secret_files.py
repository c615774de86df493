"""The values held in a workspace's secret files, so redaction knows them (and their encodings).

A rule that denies or asks for paths (the secrets rule) names the secret files. Whatever reaches
one of them anyway (a command the rules could not read, an approved call, an archive unpacked
after the check) still has its output redacted: the `.env` values, the lines of a key file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable

from agent_core.oversight.folder_reads import Walk, walk_folder
from agent_core.oversight.path_patterns import any_path_matches
from agent_core.oversight.user_regex import PatternTooSlow
from agent_core.tools.workspace import Workspace

FILES_CAP = 2_000  # files of a workspace looked at for secret files
READ_CAP = 65_536  # bytes read of each secret file
TOTAL_CAP = 1 << 20  # bytes read of all of them
MIN_VALUE_CHARS = 8  # shorter values would redact ordinary words
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?[\w.\-\[\] ]+?\s*[=:]\s*(.+?)\s*$")
_PEM_EDGE = re.compile(r"^-----(BEGIN|END) ")


def secret_file_values(workspace: Workspace, patterns: Iterable[str]) -> dict[str, str]:
    """`{"app/.env: API_KEY line 3": value}` for each value found in the workspace's secret files."""
    patterns = tuple(patterns)
    if not patterns:
        return {}
    matches = _matcher(patterns)
    root = workspace.real_root
    walk = Walk()
    walk_folder(root, root, walk, FILES_CAP)
    found: dict[str, str] = {}
    budget = TOTAL_CAP
    for shown, real in walk.files:
        names = (shown,) if real == shown else (shown, real)
        if real.startswith("..") or not any(matches(n) for n in names):
            continue
        if budget <= 0:
            break
        budget -= READ_CAP
        for number, value, part in _values(root / real):
            found[f"{shown} line {number}{part}"] = value
    return found


# Whether a path is a secret file, by patterns: a pure function of the two, asked again for every
# file of the workspace before every tool call, so its answers are kept (a bounded number).
_ANSWERS: dict[tuple[str, ...], dict[str, bool]] = {}
_ANSWERS_CAP = 50_000


def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    answers = _ANSWERS.get(patterns)
    if answers is None:
        if len(_ANSWERS) >= 16:
            _ANSWERS.clear()
        answers = _ANSWERS[patterns] = {}

    def matches(path: str) -> bool:
        found = answers.get(path)
        if found is None:
            if len(answers) >= _ANSWERS_CAP:
                answers.clear()
            try:
                found = any_path_matches(patterns, path)
            except PatternTooSlow:  # a file the rules cannot place is read as a secret one
                found = True
            answers[path] = found
        return found

    return matches


def _values(path: os.PathLike[str]) -> list[tuple[int, str, str]]:
    """(line number, value, which part of the line) for each value worth redacting."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(READ_CAP).decode("utf-8", errors="replace")
    except OSError:
        return []
    values = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or _PEM_EDGE.match(stripped):
            continue
        if len(stripped) >= MIN_VALUE_CHARS:
            values.append((number, stripped, ""))
        assignment = _ASSIGNMENT.match(stripped)
        value = assignment.group(1).strip("'\"") if assignment else ""
        if len(value) >= MIN_VALUE_CHARS and value != stripped:
            values.append((number, value, " value"))
    return values
