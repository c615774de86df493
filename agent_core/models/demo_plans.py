"""The demo model's plans for the workspace goals: each maps the tool results so far to a step."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from agent_core.models.demo_report import build_report, folder_counts, short_summary
from agent_core.models.demo_steps import (
    Call,
    Final,
    Step,
    Transcript,
    failure_reason,
    files_in,
    listed_paths,
    name_of,
    other_name,
    quote,
    top_level,
)

REPORT_PATH = "report.md"
CSV_PATH = "invoices.csv"
INVOICE_DIR = "invoices"
BUILD_STATUS = "build_status.txt"
MAX_NOTES = 8
_TEMP_DIRS = ("tmp", "temp", "cache")
_TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".swp", "~")
_NOTE_SUFFIXES = (".md", ".txt")
_WAITING = ("pending", "running", "queued", "in progress", "started")
_PASSED = ("pass", "passed", "passing", "success", "succeeded", "green", "ok")


def plan_report(t: Transcript) -> Step:
    listings = t.calls("list_files")
    if not listings:
        text = "First I'll list the workspace to see which files there are."
        return Call(text, "list_files", {"path": "."})
    paths = listed_paths(listings[0].output)
    notes = [
        p
        for p in files_in(paths)
        if top_level(p) and p.endswith(_NOTE_SUFFIXES) and p != REPORT_PATH
    ][:MAX_NOTES]
    if not notes:
        return Final("The workspace has no notes (.md or .txt files) to summarise, so I stopped.")
    read = t.texts_read()
    for number, note in enumerate(notes, start=1):
        if note not in read:
            return Call(_reading_text(number, notes, paths), "read_file", {"path": note})
    report = build_report(notes, read, paths)
    return _write_step(t, report, notes, read, paths)


def _reading_text(number: int, notes: list[str], paths: list[str]) -> str:
    if number > 1:
        return f"Now {notes[number - 1]} ({number} of {len(notes)})."
    folders = folder_counts(paths)
    extra = f" (and the folders {folders}, which I'll only count)" if folders else ""
    return (
        f"The workspace has {len(notes)} notes to summarise: {', '.join(notes)}{extra}. "
        f"I'll read each one, starting with {notes[0]}."
    )


def _write_step(
    t: Transcript, report: str, notes: list[str], read: dict[str, str], paths: list[str]
) -> Step:
    return _write_file(
        t,
        REPORT_PATH,
        report,
        avoid=paths,
        asking=f"I've read all {len(notes)} files. Writing their summary to {REPORT_PATH}.",
        done=lambda target: f"Done: I read {len(notes)} files and wrote {target}.",
        shown=short_summary(notes, read),
        again="writing the same summary there.",
    )


def _write_file(
    t: Transcript,
    path: str,
    content: str,
    *,
    avoid: list[str],
    asking: str,
    done: Callable[[str], str],
    shown: str,
    again: str,
    failed_tail: str = "",
) -> Step:
    """Write `content` to `path`; when a person rejects the write and names another file (one
    not in `avoid`), write it there; when it cannot be written, the answer holds the content."""
    writes = t.calls("write_file")
    if not writes:
        return Call(
            asking,
            "write_file",
            {"path": path, "content": content},
            fallback=_not_written(path, "this run doesn't offer the write_file tool", content),
        )
    last = writes[-1]
    target = last.ran.get("path", path)
    if last.ok:
        return Final(f"{done(target)}{_edited(last)}\n\n{shown}")
    avoid = [w.args.get("path", "") for w in writes] + avoid
    suffix = path[path.rfind(".") :]
    renamed = other_name(last.note, suffix, avoid) if last.outcome == "rejected" else None
    if renamed:
        return Call(
            f'You rejected {target} and asked for "{renamed}"; {again}',
            "write_file",
            {"path": renamed, "content": content},
        )
    return Final(_not_written(target, failure_reason(last), content) + failed_tail, goal_met=False)


def _edited(done) -> str:
    """What a person changed before approving, said plainly: the answer describes what ran."""
    if done.ran == done.args:
        return ""
    changed = sorted(
        k for k in set(done.ran) | set(done.args) if done.ran.get(k) != done.args.get(k)
    )
    return f" A person edited the call before approving it ({', '.join(changed)} changed), so that is what ran."


def _not_written(path: str, reason: str, content: str) -> str:
    return f"I did not write {path}: {reason}. Here is the content instead:\n\n{content}"


def plan_invoices(t: Transcript) -> Step:
    listings = t.calls("list_files")
    if not listings:
        return Call("I'll look in the invoices folder first.", "list_files", {"path": INVOICE_DIR})
    invoices = files_in(listed_paths(listings[0].output, INVOICE_DIR))
    if not invoices:
        return Final(f"I found no invoices in {INVOICE_DIR}/, so there is nothing to extract.")
    read = t.texts_read()
    for number, invoice in enumerate(invoices, start=1):
        if invoice not in read:
            text = f"Reading {invoice} ({number} of {len(invoices)})."
            if number == 1:
                text = f"There are {len(invoices)} invoices. " + text
            return Call(text, "read_file", {"path": invoice})
    totals = {p: _invoice_total(read[p]) for p in invoices}
    found = {p: amount for p, amount in totals.items() if amount is not None}
    if not found:
        return Final(
            "None of the invoices has a 'Total:' line, so there is nothing to add up.",
            goal_met=False,
        )
    return _sum_and_write(t, found, [p for p, amount in totals.items() if amount is None])


def _invoice_total(text: str) -> Decimal | None:
    match = re.search(r"^\s*total\s*:\s*\$?\s*([\d,]+(?:\.\d+)?)", text, re.I | re.M)
    if match is None:
        return None
    try:
        return Decimal(match.group(1).replace(",", ""))
    except InvalidOperation:
        return None


def _sum_and_write(t: Transcript, found: dict[str, Decimal], missing: list[str]) -> Step:
    sums = t.calls("calculator")
    expression = " + ".join(f"{amount:.2f}" for amount in found.values())
    if not sums:
        listed = ", ".join(f"{name_of(p)} ${amount:,.2f}" for p, amount in found.items())
        return Call(
            f"Totals found: {listed}. Adding them up with the calculator.",
            "calculator",
            {"expression": expression},
        )
    grand = _number_in(sums[-1].output)
    if grand is None:
        return Final(
            f"The calculator answered {quote(sums[-1].output)!r}; I can't read a sum.",
            goal_met=False,
        )
    rows = [f"{p},{amount:.2f}" for p, amount in found.items()]
    csv = "\n".join(["file,total", *rows, f"TOTAL,{grand:.2f}"]) + "\n"
    skipped = f" ({', '.join(missing)} had no total line.)" if missing else ""
    return _write_file(
        t,
        CSV_PATH,
        csv,
        avoid=list(found),
        asking=f"The grand total is ${grand:,.2f}. Writing {len(found)} rows and a TOTAL row "
        f"to {CSV_PATH}.{skipped}",
        done=lambda target: (
            f"Done: {target} lists {len(found)} invoices; the grand total is "
            f"${grand:,.2f}.{skipped}"
        ),
        shown=csv,
        again="writing the CSV there.",
        failed_tail=f"\nGrand total: ${grand:,.2f}.",
    )


def _number_in(output: str) -> Decimal | None:
    numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?", output)
    if not numbers:
        return None
    try:
        return Decimal(numbers[-1].replace(",", ""))
    except InvalidOperation:
        return None


def is_temporary(path: str) -> bool:
    first = path.split("/", 1)[0]
    return (first in _TEMP_DIRS and "/" in path) or name_of(path).endswith(_TEMP_SUFFIXES)


def plan_cleanup(t: Transcript) -> Step:
    listings = t.calls("list_files")
    if not listings:
        return Call(
            "Let me list the workspace to find the temporary files.", "list_files", {"path": "."}
        )
    files = files_in(listed_paths(listings[0].output))
    doomed = [p for p in files if is_temporary(p)]
    if not doomed:
        return Final("I found no temporary files (*.tmp or files in tmp/), so nothing to delete.")
    return _delete_step(t, doomed, len(files))


def _delete_step(t: Transcript, doomed: list[str], total: int) -> Step:
    attempts = t.calls("delete_files")
    if not attempts:
        return Call(
            f"{len(doomed)} of the {total} files are temporary: {', '.join(doomed)}. "
            f"Deleting them; the other {total - len(doomed)} files stay.",
            "delete_files",
            {"paths": doomed},
        )
    last = attempts[-1]
    asked = list(last.ran.get("paths", doomed))
    kept = sorted(set(doomed) - set(asked))
    if last.ok:
        answer = _deleted_answer(last.output, asked, kept)
        return Final(answer + _edited(last), goal_met="Not deleted:" not in answer)
    keep = [p for p in asked if name_of(p).lower() in last.note.lower()]
    rest = [p for p in asked if p not in keep]
    if last.outcome == "rejected" and keep and rest:
        return Call(
            f"You asked me to keep {', '.join(keep)}. Deleting only the other {len(rest)} files.",
            "delete_files",
            {"paths": rest},
        )
    if last.outcome == "error":  # the tool may have stopped part-way: don't claim anything
        return Final(
            f"Deleting {', '.join(asked)} failed: {failure_reason(last)}. I stopped here.",
            goal_met=False,
        )
    return Final(
        f"Nothing was deleted: {failure_reason(last)}. The temporary files are still there: "
        f"{', '.join(asked)}.",
        goal_met=False,
    )


def _deleted_answer(output: str, asked: list[str], kept: list[str]) -> str:
    lines = output.splitlines()
    deleted = [line.removeprefix("deleted ") for line in lines if line.startswith("deleted ")]
    others = [line for line in lines if line.strip() and not line.startswith("deleted ")]
    deleted = deleted if deleted or others else asked  # an output format we don't know
    text = f"Deleted {len(deleted)} temporary files: {', '.join(deleted)}."
    if others:
        text += " Not deleted: " + "; ".join(others) + "."
    if kept:
        text += f" I kept {', '.join(kept)} as you asked."
    return text


def plan_drift(t: Transcript) -> Step:
    """Check the build until it passes; it never does, so only a monitor or a human ends this."""
    checks = t.calls("read_file")
    status = _status(checks[-1].output) if checks else None
    if any(re.search(r"\bstop\b|give up", g, re.I) for g in t.guidance):
        seen = f"still '{status}'" if status else "unknown"
        return Final(
            f"Stopping as you asked. After {len(checks)} checks the build status is {seen}; "
            "I never saw it pass.",
            goal_met=False,
        )
    check = Call("I'll check the build status.", "read_file", {"path": BUILD_STATUS})
    if status is None:
        return check
    if status.startswith(_WAITING):
        return Call(f"The build is still {status}. Let me check again.", "read_file", check.args)
    if status.startswith(_PASSED):
        return Final(f"The build passed: {BUILD_STATUS} says 'status: {status}'.")
    return Final(
        f"The build will not pass by waiting: {BUILD_STATUS} says 'status: {status}'.",
        goal_met=False,
    )


def _status(text: str) -> str:
    match = re.search(r"status\s*:\s*(.+)", text, re.I)
    return (match.group(1) if match else text).strip().lower()
