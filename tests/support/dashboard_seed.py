"""Small hand-made stores for the Approvals, History and Insights tests, via the storage API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import streamlit as st

import storage
from agent_core.tools import args_hash

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "views"


def open_test_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[storage.Store]:
    """A fresh SQLite store that the dashboard's get_store() opens too (same URL)."""
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    monkeypatch.setenv("ONLOOP_DATABASE_URL", url)
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    st.cache_resource.clear()
    st.cache_data.clear()
    store = storage.open_store(url)
    yield store
    store.dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


def make_run(
    store: storage.Store,
    *,
    goal: str = "tidy the workspace",
    status: str = "succeeded",
    model: str = "demo",
    model_name: str = "demo",
    created_at: datetime | None = None,
    finished_after_s: float | None = 30.0,
    **usage: Any,
) -> storage.Run:
    """A run in `status`, created at `created_at`, with usage totals (tokens_in=..., ...)."""
    run = storage.create_run(store, goal=goal, model=model, model_name=model_name)
    fields: dict[str, Any] = {"status": status, **usage}
    if created_at is not None:
        fields["created_at"] = created_at
    if status in storage.FINISHED_STATUSES and finished_after_s is not None:
        start = created_at or run.created_at
        fields["started_at"] = start
        fields["finished_at"] = start + timedelta(seconds=finished_after_s)
    _force_fields(store, run.id, fields)
    return storage.get_run(store, run_id=run.id)


def _force_fields(store: storage.Store, run_id: str, fields: dict[str, Any]) -> None:
    """update_run refuses created_at (the store's business); tests back-date runs directly."""
    created_at = fields.pop("created_at", None)
    storage.update_run(store, run_id=run_id, **fields)
    if created_at is not None:
        table = storage.Run.__table__
        with store.engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == run_id).values(created_at=created_at))


def make_approval(
    store: storage.Store,
    run: storage.Run,
    *,
    tool: str = "delete_files",
    arguments: dict[str, Any] | None = None,
    risk: str = "high",
    summary: str = "delete 3 files: a.tmp, b.tmp, c.tmp",
    model_text: str = "These temporary files are safe to remove.",
    requested_at: datetime | None = None,
) -> storage.Approval:
    """A pending approval with its approval_requested event, like the worker writes them."""
    arguments = arguments if arguments is not None else {"paths": ["a.tmp", "b.tmp", "c.tmp"]}
    tool_call_id = f"call-{tool}-{storage.utcnow().timestamp()}"
    payload = {"tool": tool, "arguments": arguments, "summary": summary, "risk": risk}
    seq = storage.append_event(store, run_id=run.id, kind="approval_requested", payload=payload)
    approval = storage.create_approval(
        store,
        run_id=run.id,
        request_seq=seq,
        tool_call_id=tool_call_id,
        tool=tool,
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk=risk,
        reason=f"{tool} is {risk} risk and the run is supervised",
        rule="ask-high-risk",
        model_text=model_text,
        summary=summary,
    )
    if requested_at is not None:
        table = storage.Approval.__table__
        with store.engine.begin() as conn:
            conn.execute(
                table.update().where(table.c.id == approval.id).values(requested_at=requested_at)
            )
    return storage.get_approval(store, approval_id=approval.id)


def add_events(store: storage.Store, run: storage.Run, events: list[tuple[str, dict]]) -> None:
    for kind, payload in events:
        storage.append_event(store, run_id=run.id, kind=kind, payload=payload)


def runs_in_every_status(store: storage.Store) -> dict[str, storage.Run]:
    """One run per status, each with a few events; the waiting one has a pending approval."""
    runs = {}
    for status in storage.RUN_STATUSES:
        run = make_run(store, goal=f"a {status} run", status=status, tokens_in=10, tokens_out=5)
        add_events(
            store,
            run,
            [
                ("run_started", {"goal": run.goal, "model": "demo", "tools": []}),
                ("model_call", {"step": 1, "text": "thinking", "tokens_in": 10, "tokens_out": 5}),
            ],
        )
        runs[status] = run
    make_approval(store, runs["waiting"])
    return runs
