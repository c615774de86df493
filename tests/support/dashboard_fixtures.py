"""Stores seeded like a worker would leave them, and AppTest helpers, for the Launch/Live/Run tests.

Imported by the test modules (conftest.py belongs to the shared fixtures).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

import storage
from agent_core.tools import args_hash

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT = 30  # seconds for one script run; generous because the first run imports plotly
# Model output that would load a remote image or inject HTML if it were rendered as Markdown.
HOSTILE_TEXT = "Done. ![pixel](http://evil.invalid/p.png) <img src=http://evil.invalid/i.png>"


def open_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[storage.Store]:
    """A fresh SQLite store at the URL the dashboard's get_store() will open, no OpenAI config."""
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    monkeypatch.setenv("ONLOOP_DATABASE_URL", url)
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    route_like_a_running_server(monkeypatch)
    st.cache_resource.clear()
    store = storage.open_store(url)
    yield store
    store.dispose()
    st.cache_resource.clear()


def route_like_a_running_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let st.navigation route every AppTest run, as it does in a server after its first run.

    Streamlit starts in its folder-based page mode until st.navigation runs once and switches
    it off for the process; AppTest resets that switch before every run, so a switched-to page
    would run on its own, without the router's sidebar.
    """
    init = PagesManager.__init__

    def routed_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", routed_init)


def app_at(page: str | None = None, *, query: dict[str, str] | None = None) -> AppTest:
    """The routed app, run once, then (optionally) switched to `page` with `query` and run."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    if page is not None:
        if query:  # pages register by the address (a run's page is at `/?run=ID`): run first
            at.query_params.update(query)
            at.run()
        at.switch_page(page).run()
    return at


def story(run_id: str, *, approval_id: int = 1) -> list[tuple[str, dict]]:
    """A run's events as the worker writes them: steps, a rejected approval, guidance, an answer."""
    write_args = {"path": "report.md", "content": "# Report\n"}
    return [
        (
            "run_started",
            {
                "goal": "Summarise the workspace",
                "model": "demo",
                "model_name": "demo",
                "autonomy": "supervised",
                "tools": ["read_file", "write_file"],
                "resumed": False,
            },
        ),
        (
            "model_call",
            {
                "step": 1,
                "text": "I will read the notes first.",
                "tool_calls": [
                    {"id": "c1", "name": "read_file", "arguments": '{"path": "meeting_notes.md"}'}
                ],
                "tokens_in": 120,
                "tokens_out": 30,
                "cost_usd": 0.0012,
                "latency_s": 0.4,
                "model_name": "demo",
            },
        ),
        (
            "tool_call",
            {
                "tool_call_id": "c1",
                "tool": "read_file",
                "arguments": {"path": "meeting_notes.md"},
                "risk": "low",
                "verdict": "allow",
                "rule": None,
                "reason": "low risk",
                "args_hash": args_hash({"path": "meeting_notes.md"}),
            },
        ),
        (
            "tool_result",
            {
                "tool_call_id": "c1",
                "tool": "read_file",
                "ok": True,
                "output": "Notes: ship on Friday.",
                "duration_s": 0.01,
                "outcome": "ok",
            },
        ),
        (
            "model_call",
            {
                "step": 2,
                "text": "Now I write the report.",
                "tool_calls": [
                    {"id": "c2", "name": "write_file", "arguments": '{"path": "report.md"}'}
                ],
                "tokens_in": 200,
                "tokens_out": 50,
                "cost_usd": 0.002,
                "latency_s": 0.6,
                "model_name": "demo",
            },
        ),
        (
            "tool_call",
            {
                "tool_call_id": "c2",
                "tool": "write_file",
                "arguments": write_args,
                "risk": "medium",
                "verdict": "ask",
                "rule": "ask-medium",
                "reason": "medium risk in supervised mode",
                "args_hash": args_hash(write_args),
            },
        ),
        (
            "approval_requested",
            {
                "approval_id": approval_id,
                "tool_call_id": "c2",
                "tool": "write_file",
                "arguments": write_args,
                "risk": "medium",
                "reason": "medium risk in supervised mode",
                "rule": "ask-medium",
                "summary": "write 9 characters to report.md",
                "model_text": "Now I write the report.",
                "args_hash": args_hash(write_args),
                "expires_at": None,
            },
        ),
        (
            "approval_decided",
            {
                "approval_id": approval_id,
                "tool_call_id": "c2",
                "decision": "rejected",
                "decided_by": "alice",
                "note": "call it summary.md",
                "args_hash": args_hash(write_args),
                "edited_arguments": None,
                "allow_scope": None,
                "waited_s": 12.5,
            },
        ),
        (
            "tool_result",
            {
                "tool_call_id": "c2",
                "tool": "write_file",
                "ok": False,
                "output": "Rejected by a human: call it summary.md",
                "duration_s": 0.0,
                "outcome": "rejected",
            },
        ),
        ("guidance", {"message": "Keep it short.", "by": "alice"}),
        (
            "drift",
            {
                "monitor": "repetition",
                "detail": "read_file called 3 times with the same arguments",
                "action": "pause",
            },
        ),
        ("status", {"status": "paused", "reason": "repetition monitor"}),
        ("status", {"status": "queued", "resumed": True}),
        ("error", {"message": "the model server answered 500", "where": "model"}),
        ("final_answer", {"text": HOSTILE_TEXT}),
        ("status", {"status": "succeeded", "reason": None}),
    ]


def add_events(store: storage.Store, run_id: str, events: list[tuple[str, dict]]) -> list[int]:
    return [storage.append_event(store, run_id=run_id, kind=k, payload=p) for k, p in events]


def make_run(store: storage.Store, status: str, *, goal: str | None = None) -> storage.Run:
    """A run moved to `status` with usage and timestamps like a worker leaves them."""
    run = storage.create_run(
        store,
        goal=goal or f"a {status} run",
        created_by="tester",
        max_tokens=5000,
        max_cost_usd=1.0,
    )
    fields: dict = {"status": status}
    if status != "queued":
        started = run.created_at + timedelta(seconds=1)
        fields.update(
            started_at=started,
            steps=2,
            tool_calls=2,
            tokens_in=320,
            tokens_out=80,
            cost_usd=0.0032,
            worker_id="w1",
        )
        if status in storage.FINISHED_STATUSES:
            fields.update(
                finished_at=started + timedelta(seconds=20), active_seconds=20.0, worker_id=None
            )
        if status in ("paused", "halted", "failed", "interrupted"):
            fields["reason"] = f"{status} for the test"
    storage.update_run(store, run_id=run.id, **fields)
    return storage.get_run(store, run_id=run.id)


def request_approval(store: storage.Store, run_id: str) -> storage.Approval:
    """A pending approval for run_id with the approval_requested event before it."""
    arguments = {"paths": ["a.tmp", "b.tmp"]}
    payload = {
        "tool_call_id": "c9",
        "tool": "delete_files",
        "arguments": arguments,
        "risk": "high",
        "reason": "high risk",
        "rule": None,
        "summary": "delete 2 files: a.tmp, b.tmp",
        "model_text": "These are temporary.",
        "args_hash": args_hash(arguments),
        "expires_at": None,
    }
    seq = storage.append_event(store, run_id=run_id, kind="approval_requested", payload=payload)
    return storage.create_approval(
        store,
        run_id=run_id,
        request_seq=seq,
        tool_call_id="c9",
        tool="delete_files",
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk="high",
        reason="high risk",
        model_text="These are temporary.",
        summary="delete 2 files: a.tmp, b.tmp",
    )


def runs_in_every_status(store: storage.Store) -> dict[str, storage.Run]:
    """One run per status with the story's events; the waiting run has a pending approval."""
    runs = {}
    for status in storage.RUN_STATUSES:
        run = make_run(store, status)
        if status != "queued":
            add_events(store, run.id, story(run.id)[:6])
        runs[status] = run
    request_approval(store, runs["waiting"].id)
    return runs


def plain(markdown: str) -> str:
    """Markdown that the dashboard escaped, as the browser shows it."""
    return re.sub(r"\\(.)", r"\1", markdown)


def commands_of(store: storage.Store, run_id: str) -> list[tuple[str, dict]]:
    return [(c.kind, c.payload) for c in storage.pending_commands(store, run_id=run_id)]
