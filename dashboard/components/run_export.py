"""Runs with their events as JSON Lines: one object per run, built batch by batch from the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import storage
from agent_core.oversight import inert
from agent_core.oversight.stored_policy import shown_policy
from storage.models import utcnow

EXPORT_MAX_RUNS = 5_000  # beyond this a browser download gets slow; the page says so
RUN_BATCH = 200
EVENT_BATCH = 2_000


def run_record(run: storage.Run, events: list[storage.EventRecord]) -> dict[str, Any]:
    """One run as exported: its columns (ISO timestamps) and its events in order."""
    record = run.model_dump(mode="json")
    record["policy"] = shown_policy(record.get("policy"))  # no channel's or server's credential
    record["events"] = [e.exported() for e in events]
    return record


def _all_events(store: storage.Store, run_id: str) -> list[storage.EventRecord]:
    events: list[storage.EventRecord] = []
    while True:
        after = events[-1].seq if events else 0
        batch = storage.events_after(store, run_id=run_id, after_seq=after, limit=EVENT_BATCH)
        events.extend(batch)
        if len(batch) < EVENT_BATCH:
            return events


def export_lines(
    store: storage.Store,
    *,
    filters: dict[str, Any],
    max_runs: int = EXPORT_MAX_RUNS,
    now: datetime | None = None,
) -> Iterator[str]:
    """JSON lines for the runs matching `filters` (list_runs keywords), newest first.

    Runs created after the export starts are left out, so offsets stay put while batches are read.
    """
    until = now or utcnow()
    if filters.get("until") is not None:
        until = min(until, filters["until"])
    query = {**filters, "until": until}
    offset = 0
    while offset < max_runs:
        limit = min(RUN_BATCH, max_runs - offset)
        runs = storage.list_runs(store, **query, limit=limit, offset=offset)
        for run in runs:
            record = run_record(run, _all_events(store, run.id))
            # Line and paragraph separators (a reader's line breaks) and bidi controls in a
            # model's text stay escapes in the JSON: one run, one line, read as it is.
            yield inert.json_text(record) + "\n"
        if len(runs) < limit:
            return
        offset += len(runs)


def export_jsonl(
    store: storage.Store, *, filters: dict[str, Any], max_runs: int = EXPORT_MAX_RUNS
) -> bytes:
    """The whole export file (the download button needs bytes)."""
    return "".join(export_lines(store, filters=filters, max_runs=max_runs)).encode("utf-8")
