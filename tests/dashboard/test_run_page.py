"""The Run page (AppTest): header, controls writing command rows, incremental steps, charts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

import storage
from dashboard.components.charts import timeline_segments, usage_by_step
from dashboard.components.run_link import run_url
from dashboard.deep_link import default_page
from dashboard.routes import LAUNCH_PAGE, LIVE_PAGE, RUN_PAGE
from tests.support.dashboard_fixtures import (
    APP,
    HOSTILE_TEXT,
    TIMEOUT,
    add_events,
    app_at,
    commands_of,
    make_run,
    plain,
    request_approval,
    runs_in_every_status,
    story,
)

RUN = RUN_PAGE
SEQ = re.compile(r"^#(\d+) · ")


pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


def open_run(run_id: str):
    at = app_at(RUN, query={"run": run_id})
    assert not at.exception
    return at


def shown_seqs(at) -> list[int]:
    return [int(m.group(1)) for c in at.caption if (m := SEQ.match(c.value))]


def button_keys(at) -> set[str]:
    return {b.key for b in at.button}


def test_without_a_run_id_it_offers_runs_or_says_to_launch(store):
    at = app_at(RUN)
    assert not at.exception
    assert at.info[0].value == "No runs yet — launch one on the Launch page."
    run = make_run(store, "running", goal="pick me")
    at.run()
    at.selectbox(key="run_pick").select(run.id).run()
    assert at.query_params["run"] == run.id
    assert at.title[0].value == f"Run {run.id}"


def test_an_unknown_run_id_says_what_to_do(store):
    make_run(store, "succeeded")
    at = open_run("doesnotexist")
    assert "No run with id doesnotexist" in at.error[0].value
    assert "History" in at.error[0].value
    assert at.selectbox(key="run_pick")


@pytest.mark.parametrize("status", storage.RUN_STATUSES)
def test_every_status_renders_with_the_controls_that_fit_it(store, status):
    runs = runs_in_every_status(store)
    run = runs[status]
    at = open_run(run.id)
    assert at.title[0].value == f"Run {run.id}"
    assert at.text[0].value == run.goal
    assert "Demo model (offline) · autonomy supervised" in plain(at.caption[1].value)
    keys = button_keys(at)
    active = status in storage.ACTIVE_STATUSES
    assert (f"run_halt_{run.id}" in keys) is active
    assert (f"run_pause_{run.id}" in keys) is (status in ("queued", "running", "waiting"))
    assert (f"run_resume_{run.id}" in keys) is (status in storage.RESUMABLE_STATUSES)
    # Guidance in one place: its own box while under way, the Resume form's field once paused.
    under_way = status in ("queued", "running", "waiting")
    assert (f"run_guidance_send_{run.id}" in keys) is under_way
    assert (f"run_rerun_{run.id}" in keys) is (not active)
    progress = [p.proto.text for p in at.get("progress")]
    assert progress[0] == "steps " + ("0 / 30" if status == "queued" else "2 / 30")
    assert any(text.startswith("tokens ") for text in progress)
    assert any(text.startswith("cost ") for text in progress)


def test_the_pending_approval_is_shown_inline_and_can_be_approved(store):
    run = make_run(store, "waiting")
    approval = request_approval(store, run.id)
    at = open_run(run.id)
    assert at.header[0].value == "Waiting for you"
    approve = f"run-{run.id}-approval-{approval.id}-approve"
    at.button(key=approve).click().run()
    assert storage.get_approval(store, approval_id=approval.id).status == "approved"
    assert approve not in button_keys(at)


def test_halt_asks_for_confirmation_then_writes_a_halt_command(store):
    run = make_run(store, "running")
    at = open_run(run.id)
    at.button(key=f"run_halt_{run.id}").click().run()
    assert "Halt this run?" in at.warning[0].value
    assert commands_of(store, run.id) == []
    at.button(key=f"run_halt_cancel_{run.id}").click().run()
    assert not at.warning
    assert commands_of(store, run.id) == []
    at.button(key=f"run_halt_{run.id}").click().run()
    at.button(key=f"run_halt_confirm_{run.id}").click().run()
    assert [kind for kind, _ in commands_of(store, run.id)] == ["halt"]
    assert at.success[0].value.startswith("Halt sent")


def test_pause_writes_a_pause_command(store):
    run = make_run(store, "running")
    at = open_run(run.id)
    at.button(key=f"run_pause_{run.id}").click().run()
    assert [kind for kind, _ in commands_of(store, run.id)] == ["pause"]
    assert at.success[0].value.startswith("Pause sent")


def test_guidance_is_sent_as_a_command_and_empty_guidance_is_refused(store):
    run = make_run(store, "waiting")
    at = open_run(run.id)
    at.button(key=f"run_guidance_send_{run.id}").click().run()
    assert "guidance is empty" in at.error[0].value
    assert commands_of(store, run.id) == []
    at.text_area(key=f"run_guidance_{run.id}").input("Skip cache.tmp")
    at.button(key=f"run_guidance_send_{run.id}").click().run()
    assert commands_of(store, run.id) == [("guidance", {"message": "Skip cache.tmp"})]
    assert at.success[0].value.startswith("Guidance sent")


def test_resume_requeues_a_paused_run_with_its_guidance(store):
    run = make_run(store, "paused")
    at = open_run(run.id)
    at.number_input(key=f"run_resume_steps_{run.id}").set_value(5)
    at.text_input(key=f"run_resume_message_{run.id}").input("stop re-reading")
    at.button(key=f"run_resume_{run.id}").click().run()
    resumed = storage.get_run(store, run_id=run.id)
    assert resumed.status == "queued"
    assert resumed.max_steps == 35
    assert commands_of(store, run.id) == [("guidance", {"message": "stop re-reading"})]
    assert f"run_pause_{run.id}" in button_keys(at)  # the controls follow the new status


def test_rerun_with_changed_settings_queues_a_child_run_and_opens_it(store):
    run = make_run(store, "succeeded")
    at = open_run(run.id)
    at.radio(key=f"run_rerun_autonomy_{run.id}").set_value("autonomous")
    at.number_input(key=f"run_rerun_steps_{run.id}").set_value(7)
    at.button(key=f"run_rerun_{run.id}").click().run()
    assert not at.exception
    (child,) = [r for r in storage.list_runs(store) if r.parent_run_id == run.id]
    assert (child.goal, child.autonomy, child.max_steps) == (run.goal, "autonomous", 7)
    assert child.status == "queued"
    assert at.query_params["run"] == child.id
    assert at.title[0].value == f"Run {child.id}"


def test_a_full_run_draws_the_newest_page_with_what_arrived(store):
    run = make_run(store, "running")
    events = story(run.id)
    add_events(store, run.id, events[:5])
    at = open_run(run.id)
    assert shown_seqs(at) == [1, 2, 3, 4, 5, 6]  # create_run's status event, then five
    add_events(store, run.id, events[5:])
    at.run()
    total = 1 + len(events)
    assert shown_seqs(at) == list(range(1, total + 1))
    tail = at.session_state[f"run_tail_{run.id}"]
    assert (tail.checked, tail.events, tail.follow) == (total, [], True)


def test_model_and_tool_output_is_shown_as_text_never_markdown(store):
    run = make_run(store, "succeeded")
    add_events(store, run.id, story(run.id))
    at = open_run(run.id)
    assert HOSTILE_TEXT in [t.value for t in at.text]
    assert "Notes: ship on Friday." in [c.value for c in at.code]
    markdown = [
        e.value for e in (*at.markdown, *at.caption, *at.info, *at.success, *at.warning, *at.error)
    ]
    assert markdown
    assert not [m for m in markdown if "![" in m or "<img" in m or "](http" in m]
    assert any("repetition" in w.value for w in at.warning)  # the drift names its monitor


def test_charts_are_drawn_from_the_events(store):
    run = make_run(store, "succeeded")
    add_events(store, run.id, story(run.id))
    at = open_run(run.id)
    assert len(at.get("plotly_chart")) == 2


def test_timeline_segments_and_usage_from_events(store):
    run = make_run(store, "waiting")
    add_events(store, run.id, story(run.id)[:9])
    request_approval(store, run.id)
    events = storage.events_after(store, run_id=run.id)
    now = events[-1].at + timedelta(seconds=30)
    segments = timeline_segments(events, now=now)
    lanes = [(s.lane, s.label) for s in segments]
    assert lanes == [
        ("model call", "step 1"),
        ("tool", "read_file"),
        ("model call", "step 2"),
        ("human wait", "write_file: rejected"),
        ("tool", "write_file"),
        ("human wait", "delete_files: pending"),
    ]
    assert segments[0].seconds == pytest.approx(0.4)
    assert segments[-1].seconds == pytest.approx(30.0)
    assert usage_by_step(events) == [(1, 150, 0.0012), (2, 400, pytest.approx(0.0032))]


def test_the_audit_section_lists_each_decision_with_who_and_the_hash(store):
    run = make_run(store, "waiting")
    approval = request_approval(store, run.id)
    at = open_run(run.id)
    assert at.expander(key=f"run_audit_{run.id}").label == "Decisions (audit): 0"
    at.text_input(key=f"run-{run.id}-approval-{approval.id}-note").input("fine by me")
    at.button(key=f"run-{run.id}-approval-{approval.id}-approve").click().run()
    at.run()
    assert at.expander(key=f"run_audit_{run.id}").label == "Decisions (audit): 1"
    (table,) = [d.value for d in at.dataframe if "decision" in d.value.columns]
    row = table.iloc[0]
    assert (row["decision"], row["note"]) == ("approved", "fine by me")
    assert row["by"] and row["arguments sha256"] == approval.args_hash[:16]


def test_the_header_names_the_policy_the_run_runs_under(store):
    run = make_run(store, "running")
    storage.update_run(
        store,
        run_id=run.id,
        policy={"source": "/srv/onloop.toml", "rules": [{"tool": "*", "action": "ask"}]},
    )
    at = open_run(run.id)
    assert "policy: /srv/onloop.toml (1 rule)" in plain(at.caption[1].value)


def test_the_main_page_opens_the_run_a_deep_link_names(store):
    run = make_run(store, "succeeded")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["run"] = run.id
    at.run()  # the address is /?run=ID: no page named, so the router's main page
    assert not at.exception
    assert at.title[0].value == f"Run {run.id}"
    assert default_page([LAUNCH_PAGE, RUN_PAGE], run=None) == LAUNCH_PAGE
    assert default_page([LIVE_PAGE, RUN_PAGE], run=run.id) == RUN_PAGE
    assert run_url("a b") == "./?run=a%20b"
