"""The Approvals page and the approval card: what they show and the decision rows they write."""

from __future__ import annotations

import dataclasses
import getpass
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.oversight import decisions
from agent_core.tools import args_hash
from tests.support import dashboard_seed as seed

HOSTILE = "![x](http://evil.invalid/p.png) <img src=http://evil.invalid/i.png> **bold**"


pytestmark = pytest.mark.store_for("page")  # a page run on its own by AppTest reads this store


def inbox() -> AppTest:
    at = AppTest.from_file(str(seed.PAGES / "approvals.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def card_key(approval: storage.Approval, name: str) -> str:
    return f"inbox-approval-{approval.id}-{name}"


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def me() -> str:
    """Without sign-in the dashboard's person is the OS user, marked local."""
    return f"{getpass.getuser()} (local)"


def test_empty_store_says_what_to_do(store):
    at = inbox()
    assert "No approvals waiting" in at.info[0].value
    assert "Launch page" in at.info[0].value
    assert not at.button


def test_every_status_renders_the_waiting_runs_card(store):
    runs = seed.runs_in_every_status(store)
    (approval,) = storage.pending_approvals(store)
    at = inbox()
    shown = texts(at)
    assert "delete 3 files: a.tmp, b.tmp, c.tmp" in shown
    assert runs["waiting"].goal in shown
    assert "delete_files" in shown
    assert any("high risk and the run is supervised (rule: ask-high-risk)" in t for t in shown)
    assert "These temporary files are safe to remove." in shown
    assert at.json[0].value == '{"paths": ["a.tmp", "b.tmp", "c.tmp"]}'
    assert any(f"run?run={runs['waiting'].id}" in m.value for m in at.markdown)
    assert at.text_area(key=card_key(approval, "edited")).value.startswith("{")


def test_model_output_is_shown_as_text_never_markdown(store):
    run = seed.make_run(store, status="waiting")
    seed.make_approval(store, run, summary=f"delete {HOSTILE}", model_text=HOSTILE)
    at = inbox()
    assert f"delete {HOSTILE}" in texts(at)
    assert HOSTILE in texts(at)
    assert not any("evil.invalid" in m.value for m in at.markdown)


def test_approve_records_who_and_the_hash(store):
    approval = seed.make_approval(store, seed.make_run(store, status="waiting"))
    at = inbox()
    at.button(key=card_key(approval, "approve")).click().run()
    row = storage.get_approval(store, approval_id=approval.id)
    assert (row.status, row.decided_by, row.note, row.allow_scope) == ("approved", me(), None, None)
    assert row.approved_hash == args_hash(approval.arguments)
    assert row.edited_arguments is None
    assert any("Approved: approval" in s.value for s in at.success)
    assert "No approvals waiting" in at.info[0].value  # the card left the inbox


def test_reject_opens_a_note_field_and_sending_it_rejects(store):
    approval = seed.make_approval(store, seed.make_run(store, status="waiting"))
    at = inbox()
    assert card_key(approval, "reject-note") not in [t.key for t in at.text_input]  # not open
    at.button(key=card_key(approval, "reject")).click().run()  # the X key presses it
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"
    field = at.text_input(key=card_key(approval, "reject-note"))
    assert field.label.startswith("Why reject? The agent reads this")
    field.input("keep b.tmp, it is in use")
    at.button(key=card_key(approval, "reject-submit")).click().run()  # Enter in the field
    row = storage.get_approval(store, approval_id=approval.id)
    assert (row.status, row.decided_by, row.note) == ("rejected", me(), "keep b.tmp, it is in use")
    assert row.approved_hash is None


def test_approve_with_edited_arguments(store):
    approval = seed.make_approval(store, seed.make_run(store, status="waiting"))
    at = inbox()
    edited = {"paths": ["a.tmp"]}
    at.text_area(key=card_key(approval, "edited")).input('{"paths": ["a.tmp"]}')
    at.button(key=card_key(approval, "approve-edited")).click().run()
    row = storage.get_approval(store, approval_id=approval.id)
    assert row.status == "approved"
    assert row.edited_arguments == edited
    assert row.approved_hash == args_hash(edited)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ('{"paths": ["a.tmp"', "not valid JSON"),
        ('["a.tmp"]', "must be a JSON object"),
        ('{"paths": "a.tmp"}', r"do not fit delete\_files"),  # escaped: shown as Markdown
    ],
)
def test_invalid_edited_arguments_write_nothing(store, typed, problem):
    approval = seed.make_approval(store, seed.make_run(store, status="waiting"))
    at = inbox()
    at.text_area(key=card_key(approval, "edited")).input(typed)
    at.button(key=card_key(approval, "approve-edited")).click().run()
    row = storage.get_approval(store, approval_id=approval.id)
    assert (row.status, row.decided_by, row.approved_hash) == ("pending", None, None)
    (error,) = at.error
    assert problem in error.value
    assert "Nothing was saved" in error.value
    assert at.button(key=card_key(approval, "approve"))  # the card is still there to retry


def test_approve_and_allow_this_exact_call_for_the_rest_of_the_run(store):
    approval = seed.make_approval(store, seed.make_run(store, status="waiting"))
    at = inbox()
    assert at.selectbox(key=card_key(approval, "scope")).value == "call"  # the narrowest first
    at.button(key=card_key(approval, "allow")).click().run()
    row = storage.get_approval(store, approval_id=approval.id)
    assert (row.status, row.allow_scope, row.allow_rule) == ("approved", "call", None)
    assert row.approved_hash == args_hash(approval.arguments)


def test_approve_and_allow_a_wider_scope_stores_the_capped_rule_it_became(store):
    run = seed.make_run(store, status="waiting")
    approval = seed.make_approval(
        store, run, tool="run_shell", arguments={"command": "pip install requests"}
    )
    at = inbox()
    options = at.selectbox(key=card_key(approval, "scope")).options
    assert len(options) == 2 and "pip install" in options[1]
    at.selectbox(key=card_key(approval, "scope")).set_value("prefix").run()
    at.button(key=card_key(approval, "allow")).click().run()
    row = storage.get_approval(store, approval_id=approval.id)
    assert (row.status, row.allow_scope) == ("approved", "prefix")
    assert row.allow_rule is not None
    assert (row.allow_rule["commands"], row.allow_rule["up_to"]) == (["pip install"], "install")


def test_a_decision_made_elsewhere_first_is_reported_not_overwritten(store):
    approval = seed.make_approval(store, seed.make_run(store, status="waiting"))
    at = inbox()
    storage.decide_approval(store, approval_id=approval.id, decision="rejected", decided_by="bob")
    at.button(key=card_key(approval, "approve")).click().run()
    row = storage.get_approval(store, approval_id=approval.id)
    assert (row.status, row.decided_by) == ("rejected", "bob")
    assert any("already rejected by bob" in w.value for w in at.warning)


def test_an_expired_approval_cannot_be_approved_and_the_card_says_why(store):
    approval = seed.make_approval(store, seed.make_run(store, status="waiting"))
    table = storage.Approval.__table__
    past = storage.utcnow() - timedelta(minutes=5)
    with store.engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == approval.id).values(expires_at=past))
    at = inbox()
    at.button(key=card_key(approval, "approve")).click().run()
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"
    shown = [e.value for e in at.error] + [w.value for w in at.warning]
    assert any("expired" in m and "can no longer be decided" in m for m in shown), shown


def select(at: AppTest, *approvals: storage.Approval) -> None:
    for approval in approvals:
        at.checkbox(key=f"inbox-select-{approval.id}").check()
    at.run()


def test_batch_approve_selected_with_one_note(store):
    run = seed.make_run(store, status="waiting")
    first, second, third = (seed.make_approval(store, run) for _ in range(3))
    at = inbox()
    assert at.button(key="inbox-batch-approve").disabled
    select(at, first, third)
    assert at.button(key="inbox-batch-approve").label == "Approve ticked (2)"
    at.text_input(key="inbox-batch-note").input("batch ok")
    at.button(key="inbox-batch-approve").click().run()
    for approval in (first, third):
        row = storage.get_approval(store, approval_id=approval.id)
        assert (row.status, row.note, row.decided_by) == ("approved", "batch ok", me())
        assert row.approved_hash == args_hash(approval.arguments)
    assert storage.get_approval(store, approval_id=second.id).status == "pending"
    assert any("Approved 2 of 2 ticked" in s.value for s in at.success)


def test_batch_reject_reports_each_failure(store):
    run = seed.make_run(store, status="waiting")
    first, second = seed.make_approval(store, run), seed.make_approval(store, run)
    at = inbox()
    select(at, first, second)
    storage.decide_approval(store, approval_id=second.id, decision="approved", decided_by="bob")
    at.text_input(key="inbox-batch-note").input("not now")
    at.button(key="inbox-batch-reject").click().run()
    row = storage.get_approval(store, approval_id=first.id)
    assert (row.status, row.note) == ("rejected", "not now")
    assert storage.get_approval(store, approval_id=second.id).decided_by == "bob"
    warnings = [w.value for w in at.warning]
    assert "Rejected 1 of 2 ticked." in warnings
    assert any(f"approval {second.id}" in w and "already approved by bob" in w for w in warnings)


def test_a_new_approval_pops_up_a_toast_on_any_page(store, monkeypatch):
    from tests.support.dashboard_fixtures import app_at, route_like_a_running_server

    route_like_a_running_server(monkeypatch)
    run = seed.make_run(store, status="waiting")
    seed.make_approval(store, run)
    at = app_at("views/history.py")
    assert not at.toast  # the first look lists them; nothing is new yet
    seed.make_approval(store, run, summary="write 9 characters to report.md")
    at.run()  # what the sidebar's run_every does in a browser
    (toast,) = at.toast
    assert f"Run {run.id} is waiting for approval" in toast.value
    assert "report" in toast.value
    at.run()
    assert not at.toast  # nothing new since


def test_inbox_lists_oldest_first_across_runs(store):
    now = storage.utcnow()
    older_run, newer_run = (
        seed.make_run(store, status="waiting"),
        seed.make_run(store, status="waiting"),
    )
    newer = seed.make_approval(store, newer_run, summary="newer", requested_at=now)
    older = seed.make_approval(
        store, older_run, summary="older", requested_at=now.replace(year=2020)
    )
    at = inbox()
    boxes = [c.key for c in at.checkbox]
    assert boxes == [f"inbox-select-{older.id}", f"inbox-select-{newer.id}"]


def test_the_card_in_the_routed_app_links_to_the_run_page(store):
    run = seed.make_run(store, status="waiting")
    seed.make_approval(store, run)
    at = AppTest.from_file(str(seed.PAGES.parent / "app.py"), default_timeout=30)
    at.run()
    at.switch_page("views/approvals.py").run()
    assert not at.exception
    links = [link for link in at.get("page_link") if "run" in link.proto.page]
    assert any(f"run={run.id}" in link.proto.query_string for link in links)


def test_a_long_inbox_shows_the_oldest_first_and_more_on_request(store):
    run = seed.make_run(store, status="waiting")
    approvals = [seed.make_approval(store, run) for _ in range(30)]
    at = inbox()
    assert len(at.checkbox) == 25
    assert any("30 waiting** (the first 25 listed)" in c.value for c in at.caption)
    at.button(key="inbox-show-more").click().run()
    assert [c.key for c in at.checkbox] == [f"inbox-select-{a.id}" for a in approvals]


def test_select_all_shown_then_reject(store):
    run = seed.make_run(store, status="waiting")
    approvals = [seed.make_approval(store, run) for _ in range(3)]
    at = inbox()
    at.button(key="inbox-select-all").click().run()
    assert all(c.value for c in at.checkbox)
    at.button(key="inbox-batch-reject").click().run()
    rows = [storage.get_approval(store, approval_id=a.id) for a in approvals]
    assert [(r.status, r.note) for r in rows] == [("rejected", None)] * 3
    assert "Rejected 3 of 3 ticked." in [s.value for s in at.success]


def _words_changed(real):
    """scopes_of as it answers once the workspace changed: the prefix scope's words differ."""

    def changed(store, approval):
        return [
            dataclasses.replace(s, label=f"{s.label} and more") if s.kind == "prefix" else s
            for s in real(store, approval)
        ]

    return changed


def test_a_scope_whose_words_changed_since_they_were_shown_decides_nothing(store, monkeypatch):
    """The card sent only the scope's kind and the scope was computed again at the click: what
    was allowed could differ from what the person read. Now the words read go with the click."""
    run = seed.make_run(store, status="waiting")
    approval = seed.make_approval(
        store, run, tool="run_shell", arguments={"command": "pip install requests"}
    )
    at = inbox()
    at.selectbox(key=card_key(approval, "scope")).set_value("prefix").run()
    monkeypatch.setattr(decisions, "scopes_of", _words_changed(decisions.scopes_of))
    at.button(key=card_key(approval, "allow")).click().run()
    assert not at.exception
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"
    said = [e.value for e in [*at.error, *at.warning]]
    assert any("changed since it was shown" in s for s in said), said


def test_the_words_shown_must_be_the_scopes_words_now(store):
    run = seed.make_run(store, status="waiting")
    approval = seed.make_approval(
        store, run, tool="run_shell", arguments={"command": "pip install requests"}
    )
    [_, prefix] = decisions.scopes_of(store, approval)
    with pytest.raises(decisions.DecisionError, match="changed since it was shown"):
        decisions.approve(
            store, approval_id=approval.id, by="ann", allow_scope="prefix", shown_scope="pip *"
        )
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"
    decisions.approve(
        store, approval_id=approval.id, by="ann", allow_scope="prefix", shown_scope=prefix.label
    )
    assert storage.get_approval(store, approval_id=approval.id).allow_scope == "prefix"
