"""Run data on a terminal line."""

from __future__ import annotations

import shutil
import unicodedata
from typing import TextIO

from agent_core.oversight import inert

ROW_INDENT = "      "  # a wrapped row: under the words it continues, never at the left edge


def one_line(text: object) -> str:
    """Run data on one terminal line: every control, escape and newline shown, not obeyed."""
    return inert.visible(text, newlines=False, tabs=False)


def columns(char: str) -> int:
    """The columns a character takes on a terminal: two for wide (East Asian W and F, most
    emoji), none for a combining mark, eight at most for a tab, one for the rest."""
    if char == "\t":
        return 8
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def terminal_width(stream: TextIO) -> int | None:
    """The columns of the terminal `stream` writes to; None for a pipe or a file (lines whole)."""
    isatty = getattr(stream, "isatty", None)
    if not callable(isatty) or not isatty():
        return None
    return shutil.get_terminal_size((80, 24)).columns


def fit(text: str, width: int | None) -> str:
    """Each line of `text` in rows narrower than the terminal, every row after a line's first
    indented. A terminal wraps a longer line itself, at its left edge: a model's words that fill
    a row up to the edge put what follows ("● succeeded") where onloop writes its own lines."""
    if width is None:
        return text
    room = max(width - 1, len(ROW_INDENT) + 20)  # one column spare: a full row may wrap
    rows: list[str] = []
    for line in text.split("\n"):
        row, used = "", 0
        for char in line:
            wide = columns(char)
            if used + wide > room:
                rows.append(row)
                row, used = ROW_INDENT, len(ROW_INDENT)
            row += char
            used += wide
        rows.append(row)
    return "\n".join(rows)
