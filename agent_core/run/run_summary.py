"""The whole run in a few lines, from onloop's own record (the work ledger), for a judge: files
read and written with their sizes, files deleted, commands with their exits, URLs, what was
refused. The last messages alone cannot show that all 20 files were read."""

from __future__ import annotations

from collections import Counter

from agent_core.run.attempt_words import quoted
from agent_core.run.work_ledger import Attempt, WorkLedger

SECTION_CAP = 60  # entries listed per section before "and N more"
SUMMARY_CAP = 8000  # characters of the whole summary


def summarise(ledger: WorkLedger) -> str:
    sections = [
        _section("Files read", _sized(ledger, "reads")),
        _section("Files written", _sized(ledger, "writes")),
        _section("Files deleted", sorted(ledger.files("deletes"))),
        _section("Commands run (in order)", [_command(a) for a in ledger.attempts if _ran(a)]),
        _section("URLs fetched", [_url(a) for a in ledger.attempts if a.effects.url and _ran(a)]),
        _section("Refused or failed", [a.failure() for a in ledger.attempts if _refused(a)]),
        _section("Other calls", _others(ledger)),
    ]
    text = "\n".join(s for s in sections if s) or "No tool call did anything."
    return text if len(text) <= SUMMARY_CAP else text[: SUMMARY_CAP - 30] + "\n[summary cut here]"


def _sized(ledger: WorkLedger, what: str) -> list[str]:
    sizes: dict[str, int | None] = {}
    for attempt in ledger.attempts:
        if attempt.outcome != "ok":
            continue
        for path in getattr(attempt.effects, what):
            known = attempt.size if attempt.effects.command is None else None
            sizes[path] = known if known is not None else sizes.get(path)
    return [
        f"{quoted(p, 120)} ({size:,} bytes)" if size is not None else quoted(p, 120)
        for p, size in sizes.items()
    ]


def _ran(attempt: Attempt) -> bool:
    return attempt.outcome in ("ok", "error")


def _refused(attempt: Attempt) -> bool:
    return attempt.outcome in ("rejected", "denied") or (
        attempt.outcome == "error" and attempt.effects.command is None
    )


def _command(attempt: Attempt) -> str:
    if attempt.effects.command is None:
        return ""
    if attempt.outcome == "error":
        return f"{attempt.shown()}: {quoted(attempt.output, 100)}"
    exit_code = attempt.exit_code if attempt.exit_code is not None else "unknown"
    return f"{attempt.shown()}: exit {exit_code}"


def _url(attempt: Attempt) -> str:
    how = "fetched" if attempt.outcome == "ok" else f"failed: {quoted(attempt.output, 80)}"
    return f"{quoted(attempt.effects.url or '', 160)} ({how})"


def _others(ledger: WorkLedger) -> list[str]:
    plain = Counter(
        a.tool
        for a in ledger.attempts
        if a.outcome == "ok"
        and not (a.effects.reads or a.effects.writes or a.effects.deletes)
        and a.effects.command is None
        and a.effects.url is None
    )
    return [f"{tool} x{count}" for tool, count in sorted(plain.items())]


def _section(title: str, lines: list[str]) -> str:
    lines = [line for line in lines if line]
    if not lines:
        return ""
    shown = lines[:SECTION_CAP]
    more = f"\n  ... and {len(lines) - SECTION_CAP} more" if len(lines) > SECTION_CAP else ""
    return f"{title} ({len(lines)}):\n" + "\n".join(f"  - {line}" for line in shown) + more
