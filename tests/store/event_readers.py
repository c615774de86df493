"""Every reader of the event record, run over a run's events: the typed models, the CLI lines,
the dashboard's event rendering (into a recorder instead of a page), the conversation rebuild,
crash recovery's view, the finish ledger, the charts and both exports."""

from __future__ import annotations

from typing import Any

import pytest

import storage
from agent_core.cli.render import render_event as cli_line
from agent_core.cli.render import run_as_dict
from agent_core.oversight.policy import Policy
from agent_core.run.auto_resume import assess
from agent_core.run.call_ids import CallIds
from agent_core.run.context_window import overflows_in_a_row
from agent_core.run.conversation import rebuild
from agent_core.run.unfinished_calls import unfinished_calls
from agent_core.run.work_ledger import WorkLedger
from dashboard.components import charts, events
from dashboard.components.run_export import run_record
from storage.record import MODELS, parse_event


class PageRecorder:
    """Stands in for `streamlit` in dashboard.components.events: keeps what would be drawn."""

    def __init__(self) -> None:
        self.drawn: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def draw(*args: Any, **kwargs: Any) -> None:
            self.drawn.append(" ".join(str(a) for a in args))

        return draw


def dashboard_text(monkeypatch: pytest.MonkeyPatch, event: storage.EventRecord) -> str:
    page = PageRecorder()
    with monkeypatch.context() as patch:
        patch.setattr(events, "st", page)
        events.render_event(event)
    return "\n".join(page.drawn)


def read_everywhere(
    monkeypatch: pytest.MonkeyPatch, store: storage.Store, run_id: str
) -> dict[str, Any]:
    """What every reader makes of the run's events (none may raise): by reader."""
    run = storage.get_run(store, run_id=run_id)
    stored = storage.events_after(store, run_id=run_id)
    return {
        "parsed": [parse_event(e.kind, e.payload) for e in stored],
        "cli": [cli_line(e.kind, e.payload, e.seq) for e in stored],
        "dashboard": [dashboard_text(monkeypatch, e) for e in stored],
        "messages": rebuild(run.goal, stored),
        "unfinished": unfinished_calls(stored, {}),
        "assessed": assess(stored, {}, Policy()),
        "call_ids": CallIds(stored),
        "overflows": overflows_in_a_row(stored),
        "ledger": WorkLedger().replay(stored),
        "timeline": charts.timeline_segments(stored, now=storage.utcnow()),
        "usage": charts.usage_by_step(stored),
        "cli_export": run_as_dict(run, stored)["events"],
        "dashboard_export": run_record(run, stored)["events"],
        "stored": stored,
    }


def assert_models_hold_the_record(stored: list[storage.EventRecord]) -> None:
    """Each event reads as its kind's model, checked (not read as it came), with every stored key
    a field of the model (a writer spelling a field differently leaves an extra key), and dumps
    back to exactly the stored JSON."""
    for e in stored:
        parsed = parse_event(e.kind, e.payload)
        assert type(parsed) is MODELS[e.kind], e
        assert type(parsed).model_validate({**e.payload, "kind": e.kind}) == parsed, e
        assert not parsed.model_extra, f"{e.kind} #{e.seq} has keys no field names: {e.payload}"
        assert parsed.payload() == e.payload, e
