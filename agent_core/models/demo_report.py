"""How the demo model summarises the notes it read: title, sections, counts and a highlight."""

from __future__ import annotations

import re

from agent_core.models.demo_steps import quote

_BULLET = re.compile(r"^\s*[-*]\s+(.*)")
_OPEN = re.compile(r"^\s*(?:[-*]\s*)?\[ \]\s*(.*)")
_DONE = re.compile(r"^\s*(?:[-*]\s*)?\[[xX]\]\s*(.*)")


def title_of(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    headings = [line.lstrip("#").strip() for line in lines if line.startswith("#")]
    return quote(headings[0] if headings else (lines[0] if lines else "(empty)"), 80)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def note_facts(text: str) -> list[str]:
    """A few plain facts about one note: size, sections, todo items or bullet points."""
    lines = text.splitlines()
    words = len(text.split())
    facts = [f"{_count(sum(1 for line in lines if line.strip()), 'line')}, {_count(words, 'word')}"]
    sections = [line.lstrip("#").strip() for line in lines if re.match(r"^#{2,}\s", line)]
    if sections:
        facts.append("sections: " + ", ".join(sections))
    open_items = [m.group(1) for line in lines if (m := _OPEN.match(line))]
    done_items = [m.group(1) for line in lines if (m := _DONE.match(line))]
    bullets = [m.group(1) for line in lines if (m := _BULLET.match(line))]
    if open_items or done_items:
        facts.append(f"{len(done_items)} done, {len(open_items)} open")
        if open_items:
            facts.append(f'next open item: "{quote(open_items[0], 80)}"')
    elif bullets:
        facts.append(f'{len(bullets)} bullet points, the first: "{quote(bullets[0], 80)}"')
    return facts


def folder_counts(paths: list[str]) -> str:
    """The folders a recursive listing shows, with their file counts: "invoices/ (4 files)"."""
    counts: dict[str, int] = {}
    for path in paths:
        if "/" in path.rstrip("/"):
            folder = path.split("/", 1)[0] + "/"
            counts[folder] = counts.get(folder, 0) + (0 if path.endswith("/") else 1)
    return ", ".join(
        f"{folder} ({n} file{'' if n == 1 else 's'})" for folder, n in sorted(counts.items())
    )


def build_report(notes: list[str], read: dict[str, str], paths: list[str]) -> str:
    """The markdown report: an overview of the workspace, then one section per note read."""
    folders = folder_counts(paths)
    others = [p for p in paths if "/" not in p and p not in notes]
    lines = [
        "# Workspace report",
        "",
        "Written by the onloop demo model from the files it read.",
        "",
        "## Overview",
        "",
        f"- Notes read: {len(notes)} ({', '.join(notes)})",
    ]
    if others:
        lines.append(f"- Other files, not summarised: {len(others)} ({', '.join(others)})")
    if folders:
        lines.append(f"- Folders, not opened: {folders}")
    for note in notes:
        lines += ["", f"## {note}", "", f"**{title_of(read[note])}**", ""]
        lines += [f"- {fact}" for fact in note_facts(read[note])]
    return "\n".join(lines) + "\n"


def short_summary(notes: list[str], read: dict[str, str]) -> str:
    """One line per note for the final answer."""
    return "\n".join(
        f"- {note}: {title_of(read[note])} ({note_facts(read[note])[0]})" for note in notes
    )
