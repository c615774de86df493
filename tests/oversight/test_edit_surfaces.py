"""Where a person edits: the dashboard card and `onloop approve --args` say what changed and
what the policy says of the edited call, and refuse a denied edit in one clear line."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.oversight.inert import markdown as inert
from agent_core.oversight.policy import Policy
from agent_core.oversight.policy_file import default_policy_text, parse_policy
from tests.cli.test_commands import onloop
from tests.support import dashboard_seed as seed
from tests.support.run_helpers import new_run

POLICY = parse_policy(default_policy_text(), source="defaults")
WRITE = {"path": "notes.txt", "content": "hello"}


def waiting(store, tmp_path, policy: Policy = POLICY):
    folder = tmp_path / "ws"
    folder.mkdir(exist_ok=True)
    run = new_run(store, "edit", policy=policy, workspace=str(folder), model="scripted")
    storage.update_run(store, run_id=run.id, status="waiting")
    return seed.make_approval(
        store, run, tool="write_file", arguments=WRITE, risk="medium", summary="write notes.txt"
    )


# -- the dashboard card ---------------------------------------------------------------------------


@pytest.fixture
def page_store(tmp_path, monkeypatch):
    yield from seed.open_test_store(tmp_path, monkeypatch)


def inbox() -> AppTest:
    at = AppTest.from_file(str(seed.PAGES / "approvals.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def key(approval, name: str) -> str:
    return f"inbox-approval-{approval.id}-{name}"


def test_the_card_shows_the_edit_as_old_to_new_with_the_new_verdict(page_store, tmp_path):
    approval = waiting(page_store, tmp_path)
    at = inbox()
    at.text_area(key=key(approval, "edited")).input('{"path": "b.txt", "content": "hello"}').run()
    shown = [t.value for t in at.text]
    assert 'path: "notes.txt" → "b.txt"' in shown
    assert "allow (`write_file` creates b.txt inside the workspace (write) in supervised mode)" in (
        shown
    )
    assert not at.error
    at.button(key=key(approval, "approve-edited")).click().run()
    row = storage.get_approval(page_store, approval_id=approval.id)
    assert row.status == "approved" and row.edited_arguments == {
        "path": "b.txt",
        "content": "hello",
    }
    notices = [s.value for s in at.success]
    assert any(inert('path: "notes.txt" → "b.txt"') in n for n in notices), notices
    assert any(inert("the policy for the edited call: allow") in n for n in notices)


@pytest.mark.parametrize(
    "typed",
    [
        '{"path": ".env", "content": "x"}',
        '{"path": "../x", "content": "x"}',
        '{"path": "keys/id_rsa", "content": "x"}',
    ],
)
def test_the_card_refuses_a_denied_edit_and_says_why_before_and_after_pressing(
    page_store, tmp_path, typed
):
    approval = waiting(page_store, tmp_path)
    at = inbox()
    at.text_area(key=key(approval, "edited")).input(typed).run()
    assert any("Cannot be approved" in e.value for e in at.error)  # before pressing
    at.button(key=key(approval, "approve-edited")).click().run()
    row = storage.get_approval(page_store, approval_id=approval.id)
    assert (row.status, row.edited_arguments) == ("pending", None)
    assert any(
        "Nothing was saved" in e.value and "denies the edited call" in e.value for e in at.error
    )


def test_the_card_shows_control_characters_of_an_edit_as_codes(page_store, tmp_path):
    approval = waiting(page_store, tmp_path)
    at = inbox()
    at.text_area(key=key(approval, "edited")).input(
        '{"path": "b\\u001b]52;c;SGVsbG8=\\u0007.txt", "content": "hello"}'
    ).run()
    (change,) = [t.value for t in at.text if t.value.startswith("path:")]
    assert "\x1b" not in change and "\\u001b]52" in change


# -- the command line -----------------------------------------------------------------------------


def test_cli_refuses_a_denied_edit_in_one_line(tmp_path):
    db = tmp_path / "onloop.db"
    store = storage.open_store(str(db))
    approval = waiting(store, tmp_path)
    store.dispose()
    for args, why in [
        ('{"path": ".env", "content": "x"}', "never touch secrets"),
        ('{"path": "/etc/passwd", "content": "x"}', "outside the run's workspace"),
        ('{"path": "a.txt", "content": "x", "mode": 511}', "does not declare 'mode'"),
    ]:
        done = onloop("approve", approval.run_id, "--args", args, "--db", str(db), cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert why in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    both = onloop(
        "approve", approval.run_id, "--args", '{"path": "b.txt", "content": "x"}',
        "--allow", "call", "--db", str(db), cwd=tmp_path,
    )  # fmt: skip
    assert both.returncode == 2 and "rest of the run" in both.stderr
    store = storage.open_store(str(db))
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"
    store.dispose()


def test_cli_says_what_an_approved_edit_changed_and_the_policy_verdict(tmp_path):
    db = tmp_path / "onloop.db"
    store = storage.open_store(str(db))
    approval = waiting(store, tmp_path)
    store.dispose()
    done = onloop(
        "approve", approval.run_id, "--args", '{"path": "b.txt", "content": "hello"}',
        "--db", str(db), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '  edited path: "notes.txt" → "b.txt"' in done.stdout
    assert (
        "the policy for the edited call: allow (`write_file` creates b.txt inside the workspace "
        "(write) in supervised mode)" in done.stdout
    )
