"""Read a docstring (Google, NumPy, reST or Epydoc style, via docstring_parser): the summary the
model sees, and one description per argument."""

from __future__ import annotations

from dataclasses import dataclass, field

import docstring_parser


@dataclass(frozen=True)
class Docstring:
    summary: str
    args: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str) -> Docstring:
    """Split a docstring into its summary (text before the first section) and its Args entries."""
    parsed = docstring_parser.parse(doc)
    summary = "\n\n".join(p for p in (parsed.short_description, parsed.long_description) if p)
    args = {
        p.arg_name.lstrip("*"): " ".join((p.description or "").split())
        for p in parsed.params
        if p.args and p.args[0] in ("param", "parameter", "arg", "argument", "key", "keyword")
    }
    return Docstring(summary=summary.strip(), args=args)
