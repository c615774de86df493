"""Read a Google-style docstring: the summary the model sees, and one description per argument."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_SECTIONS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "returns",
    "return",
    "yields",
    "raises",
    "example",
    "examples",
    "note",
    "notes",
    "warning",
    "warnings",
    "see also",
    "todo",
    "attributes",
}
_ARG_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_HEADER = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
# "name: text" or "name (str): text"; the type in parentheses is dropped (the hint is the truth).
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class Docstring:
    summary: str
    args: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str) -> Docstring:
    """Split a docstring into its summary (text before the first section) and its Args entries."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    arg_lines: list[str] = []
    for line in inspect.cleandoc(doc).splitlines():
        header = _HEADER.match(line)
        if header and header.group(1).strip().lower() in _SECTIONS:
            section = header.group(1).strip().lower()
        elif section is None:
            summary.append(line)
        elif section in _ARG_SECTIONS:
            arg_lines.append(line)
    args = _parse_args(arg_lines)
    return Docstring(summary="\n".join(summary).strip(), args=args)


def _parse_args(lines: list[str]) -> dict[str, str]:
    """Entries sit at the section's first indent; deeper lines continue the entry above them."""
    args: dict[str, str] = {}
    entry_indent: int | None = None
    current: str | None = None
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if entry_indent is None:
            entry_indent = indent
        entry = _ARG_LINE.match(line.strip())
        if indent == entry_indent and entry:
            current = entry.group(1)
            args[current] = entry.group(2).strip()
        elif indent > entry_indent and current is not None:
            args[current] = f"{args[current]} {line.strip()}".strip()
    return args
