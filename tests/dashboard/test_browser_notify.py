"""Browser notifications in an open tab (AppTest): which new items become a note, once each, for
a role that may decide them, the run ends the run's `[notify] events` ask for, and the script's
text stays data. (tests/browser/test_browser_notify.py shows them in Chromium.)"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.oversight.notify.links import check_link
from agent_core.oversight.policy import Policy
from agent_core.tools import args_hash
from dashboard.components.browser_notes import BrowserNote
from dashboard.components.browser_notify import note_script
from tests.support import dashboard_fixtures as fx
from tests.support.signin_helpers import signed_in, write_signin_file

HOSTILE = 'rm </script><script>alert("x")</script> \' " & see http://evil.invalid/x'


@pytest.fixture
def local_store(tmp_path, monkeypatch):
    yield from fx.open_store(tmp_path, monkeypatch)


@pytest.fixture
def signed_in_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_AUTH", str(write_signin_file(tmp_path)))
    monkeypatch.delenv("ONLOOP_INSECURE_NO_AUTH", raising=False)
    yield from fx.open_store(tmp_path, monkeypatch)


def notes(at) -> list[dict]:
    """The notes the tab's last refresh emitted (the script's JSON, decoded)."""
    found = []
    for element in at.get("html"):
        body = element.proto.body
        if "const notes = " in body:
            found += json.loads(body.split("const notes = ", 1)[1].split(";\n", 1)[0])
    return found


def run_with(store, status: str, *, events: list[str] | None = None, goal: str = "tidy up"):
    policy = None
    if events is not None:
        policy = Policy.model_validate({"notify": {"events": events}}).model_dump(mode="json")
    run = storage.create_run(store, goal=goal, policy=policy)
    storage.update_run(store, run_id=run.id, status=status)
    return run


def ask(store, run_id: str, summary: str = "delete 2 files: a.tmp, b.tmp") -> storage.Approval:
    arguments = {"paths": ["a.tmp"]}
    seq = storage.append_event(store, run_id=run_id, kind="guidance", payload={"message": "-"})
    return storage.create_approval(
        store,
        run_id=run_id,
        request_seq=seq,
        tool_call_id="c1",
        tool="delete_files",
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk="high",
        reason="high risk",
        summary=summary,
    )


def test_each_new_approval_is_one_note_once_and_its_link_opens_it(local_store):
    store = local_store
    waiting = run_with(store, "waiting")
    earlier = ask(store, waiting.id)  # pending when the tab opens: the sidebar shows it already
    at = fx.app_at()
    assert not at.exception
    assert notes(at) == []
    (control,) = [
        h.proto.body for h in at.get("html") if 'id="onloop-notify-permission"' in h.proto.body
    ]
    # No icon-font ligature: st.html does not load the font, so it showed as the word itself.
    assert "material-symbols" not in control and ">notifications<" not in control
    approval = ask(store, waiting.id, summary="write 9 characters to report.md")
    at.run()
    [note] = notes(at)
    assert note["tag"] == f"onloop-approval-{approval.id}"
    assert note["title"] == f"onloop run {waiting.id} waits for an approver's decision"
    assert note["body"] == "write 9 characters to report.md (risk high)"
    link = dict(parse_qsl(urlsplit(note["url"]).query))
    assert note["url"].startswith("/?") and link["item"] == f"approval-{approval.id}"
    assert check_link(storage.notify_key(store), link).ident == str(approval.id)
    at.run()
    assert notes(at) == []  # once per tab
    assert f"onloop-approval-{earlier.id}" != note["tag"]


def tabs_told(store, run_id: str, roles: tuple[str, ...]) -> dict[str, list[str]]:
    """One signed-in tab per role; after a new approval, the tags each was told."""
    tabs = {}
    for role in roles:
        tabs[role] = AppTest.from_file(str(fx.APP), default_timeout=fx.TIMEOUT)
        tabs[role].user = signed_in(role)
        tabs[role].run()
        assert not tabs[role].exception
    approval = ask(store, run_id)
    for at in tabs.values():
        at.run()
    return {
        role: [n["tag"].replace(str(approval.id), "ID") for n in notes(at)]
        for role, at in tabs.items()
    }


def test_a_viewer_hears_of_no_approval_an_approver_does(signed_in_store):
    waiting = run_with(signed_in_store, "waiting")
    told = tabs_told(signed_in_store, waiting.id, ("viewer", "approver"))
    assert told == {"viewer": [], "approver": ["onloop-approval-ID"]}


def test_an_approval_that_needs_an_admin_is_told_to_admins_only(signed_in_store):
    rule = {"tool": "delete_files", "action": "ask", "approve_role": "admin", "name": "deletes"}
    policy = Policy.model_validate({"rules": [rule]}).model_dump(mode="json")
    run = storage.create_run(signed_in_store, goal="clean up", policy=policy)
    storage.update_run(signed_in_store, run_id=run.id, status="waiting")
    told = tabs_told(signed_in_store, run.id, ("approver", "admin"))
    assert told == {"approver": [], "admin": ["onloop-approval-ID"]}


def test_run_ends_the_run_asks_for_are_told_a_persons_pause_is_not(local_store):
    store = local_store
    halted = run_with(store, "running", goal="tidy the notes")
    drifted = run_with(store, "running")
    paused_by_hand = run_with(store, "running")
    quiet = run_with(store, "running", events=["approval_requested"])
    at = fx.app_at()
    storage.update_run(store, run_id=halted.id, status="halted", reason="halted by alice")
    storage.update_run(store, run_id=drifted.id, status="paused", reason="drift: repetition")
    storage.update_run(store, run_id=paused_by_hand.id, status="paused", reason="paused by bob")
    storage.update_run(store, run_id=quiet.id, status="succeeded")
    at.run()
    told = {n["tag"]: n for n in notes(at)}
    assert set(told) == {f"onloop-run-{halted.id}-halted", f"onloop-run-{drifted.id}-paused"}
    assert told[f"onloop-run-{halted.id}-halted"]["title"] == f"onloop run {halted.id} halted"
    assert told[f"onloop-run-{halted.id}-halted"]["body"] == "tidy the notes: halted by alice"
    assert told[f"onloop-run-{drifted.id}-paused"]["url"] == f"/?run={drifted.id}"
    at.run()
    assert notes(at) == []


def test_browser_false_in_the_policy_shows_no_control_and_no_notes(
    local_store, tmp_path, monkeypatch
):
    policy = tmp_path / "onloop.toml"
    policy.write_text("[notify]\nbrowser = false\n")
    monkeypatch.setenv("ONLOOP_POLICY", str(policy))
    waiting = run_with(local_store, "waiting")
    at = fx.app_at()
    ask(local_store, waiting.id)
    at.run()
    assert not at.exception
    bodies = [h.proto.body for h in at.get("html")]
    assert not any("onloop-notify-permission" in b or "Notification" in b for b in bodies)
    assert bodies  # the page did draw its other markup (the phone-only banner's style)


def test_hostile_action_text_stays_data_in_the_script(local_store):
    waiting = run_with(local_store, "waiting")
    at = fx.app_at()
    ask(local_store, waiting.id, summary=HOSTILE)
    at.run()
    [note] = notes(at)
    assert note["body"].startswith('rm </script><script>alert("x")</script> \' " & see ')
    assert "http://evil.invalid" not in note["body"]  # not an address to follow
    script = note_script([BrowserNote(HOSTILE, note["body"], "t", "/")])
    assert script.count("</script") == 1 and script.endswith("</script>")
    assert "<script>alert" not in script and "&" not in script.split("const notes = ")[1]
