"""The top of the Run page: the state, why, and the one thing to do next, for every status; the
steps show each call's arguments and the final answer once."""

from __future__ import annotations

import pytest

import storage
from dashboard.components.approval_card import SELECTED
from dashboard.components.run_state import INBOX_SELECTED, NEXT_STEPS
from tests.support.dashboard_fixtures import (
    HOSTILE_TEXT,
    add_events,
    app_at,
    make_run,
    open_store,
    request_approval,
    story,
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    yield from open_store(tmp_path, monkeypatch)


def open_run(run_id: str):
    return app_at("views/run.py", query={"run": run_id})


def drawn_in_order(at) -> list[str]:
    """The value of every text-bearing element of the main area, in page order."""
    return [str(getattr(node, "value", "")) for node in at.main if hasattr(node, "value")]


def markdown_of(at) -> list[str]:
    return [m.value for m in at.markdown]


@pytest.mark.parametrize(
    "status", ["queued", "running", "waiting", "paused", "halted", "succeeded", "unmet", "failed"]
)
def test_each_status_leads_with_its_badge_reason_and_next_step(store, status):
    run = make_run(store, status)
    at = open_run(run.id)
    assert not at.exception
    nexts = [m for m in markdown_of(at) if "**Next:**" in m]
    assert nexts and NEXT_STEPS[status].text in nexts[0]
    # The state comes before the goal, the controls and the steps.
    order = drawn_in_order(at)
    at_next = next(i for i, v in enumerate(order) if "**Next:**" in v)
    assert at_next < order.index(run.goal)
    if status in ("paused", "halted", "failed"):
        assert any(f"{status} for the test" in m for m in markdown_of(at))


def test_a_paused_run_names_the_drift_monitor_and_its_detail_at_the_top(store):
    run = make_run(store, "paused")
    storage.append_event(
        store,
        run_id=run.id,
        kind="drift",
        payload={"monitor": "repetition", "detail": "read_file 3 times", "action": "pause"},
    )
    storage.update_run(store, run_id=run.id, reason="repetition: read_file 3 times")
    at = open_run(run.id)
    drift = [w.value for w in at.warning if "Drift" in w.value]
    assert drift and "repetition" in drift[0] and "read\\_file 3 times" in drift[0]
    # Guidance is asked in one place: the Resume form, not a second box.
    assert at.text_input(key=f"run_resume_message_{run.id}")
    assert f"run_guidance_{run.id}" not in [t.key for t in at.text_area]


def test_a_waiting_run_names_the_action_and_opens_the_inbox_on_it(store):
    run = make_run(store, "waiting")
    approval = request_approval(store, run.id)
    at = open_run(run.id)
    line = [m for m in markdown_of(at) if ":material/front_hand:" in m and "risk" in m]
    assert line and "delete\\_files" in line[0]
    at.button(key=f"run_state_decide_{approval.id}").click().run()
    # The Approvals page opened and took the request: its list selects that approval.
    assert INBOX_SELECTED not in at.session_state
    assert at.session_state[SELECTED] == approval.id


def test_a_finished_run_shows_its_answer_once_and_each_calls_arguments_once(store):
    run = make_run(store, "succeeded")
    add_events(store, run.id, story(run.id))
    at = open_run(run.id)
    texts = [t.value for t in at.text]
    assert texts.count(HOSTILE_TEXT) == 1  # at the top, not again in the steps
    assert any("shown at the top of the page" in c.value for c in at.caption)
    codes = "\n".join(c.value for c in at.code)
    # report.md's arguments: once (the tool call), not in the model step nor the approval.
    assert codes.count('"content": "# Report\\n"') == 1
    assert codes.count('"path": "meeting_notes.md"') == 1
