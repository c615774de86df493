"""Red-team places the inert-text scan trusts by name or never sees (issue 19, hunt 2).

- The approval card's risk badge: `st.badge` escapes `[` and `]` but nothing else, and a backslash
  before a bracket undoes its escape, so a risk string from the store could close the badge and
  add a link, an autolink or an icon. (The inbox list already showed the same risk through
  `inert.markdown`; the card trusted it as "one of ours".)
- The run export (JSON Lines): U+2028, U+2029 and U+0085 are line breaks to `str.splitlines`
  and many editors, so a model's text could cut one run's record into pieces, and bidi controls
  reorder what a person reading the file sees.
"""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.tools import args_hash
from dashboard.components.run_export import export_jsonl, export_lines
from dashboard.routes import APPROVALS_PAGE, RUN_PAGE
from tests.support.dashboard_fixtures import APP, TIMEOUT, app_at

pytestmark = pytest.mark.store_for("dashboard")

WITNESS = "http://127.0.0.1:9"
RISKS = {
    "bracket breakout link": f"high\\] [x\\]({WITNESS}/leak?d=secret) \\[",
    "autolink": f"{WITNESS}/auto",
    "www autolink": "www.example.test",
    "icon": ":material/delete_forever:",
    "colour directive": ":red[boom]",
    "latex": f"$\\href{{{WITNESS}/katex}}{{x}}$",
}
# Markdown that still acts after the page undoes backslash escapes: a link or image opener
# right before "(", a scheme's "://", "www.", a Streamlit icon, a formula, a colour directive.
ACTIVE = re.compile(r"(?<!\\)\]\(|://|www\.|:material/|(?<!\\)\$|(?<!\\):red(?!\\)\[")


def _approval(store: storage.Store, risk: str) -> storage.Approval:
    run = storage.create_run(store, goal="ordinary goal")
    storage.update_run(store, run_id=run.id, status="waiting", reason="waits")
    arguments = {"paths": ["a.tmp"]}
    seq = storage.append_event(
        store, run_id=run.id, kind="approval_requested", payload={"tool": "delete_files"}
    )
    return storage.create_approval(
        store,
        run_id=run.id,
        request_seq=seq,
        tool_call_id="c1",
        tool="delete_files",
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk=risk,
        reason="asked",
        summary="delete 1 file: a.tmp",
    )


def _badges(at) -> list[str]:
    return [m.value for m in at.markdown if "-badge[" in m.value and " risk" in m.value]


@pytest.mark.parametrize("risk", RISKS.values(), ids=RISKS.keys())
def test_the_approval_cards_risk_badge_links_and_draws_nothing(store, risk):
    approval = _approval(store, risk)
    at = app_at(RUN_PAGE, query={"run": approval.run_id})
    assert not at.exception
    badges = _badges(at)
    assert badges, "the card shows the risk as a badge"
    for body in badges:
        assert not ACTIVE.search(body), body


def test_an_ordinary_risk_badge_reads_as_before(store):
    approval = _approval(store, "high")
    at = app_at(RUN_PAGE, query={"run": approval.run_id})
    assert ":red-badge[high risk]" in _badges(at)


BREAKS = {
    "line separator": "a\u2028[1]\u2028b",
    "paragraph separator": "a\u2029{}\u2029b",
    "next line c1": "a\x85[2]\x85b",
    "bidi override": "\u202eexe.txt",
}


def test_the_run_export_keeps_each_run_on_one_line_and_shows_acting_characters(store):
    texts = list(BREAKS.values())
    for text in texts:
        run = storage.create_run(store, goal=text)
        storage.append_event(store, run_id=run.id, kind="model_call", payload={"text": text})
    data = export_jsonl(store, filters={}).decode("utf-8")
    lines = data.splitlines()  # what a reader that splits on every Unicode break sees
    assert len(lines) == len(texts)
    records = [json.loads(line) for line in lines]
    assert sorted(r["goal"] for r in records) == sorted(texts)  # the values are unchanged
    for record in records:
        assert record["events"][-1]["payload"]["text"] == record["goal"]
    for char in ("\u2028", "\u2029", "\x85", "\u202e"):
        assert char not in data


def test_the_run_export_still_writes_ordinary_text_as_it_is(store):
    storage.create_run(store, goal="café 日本語 — ok")
    (line,) = list(export_lines(store, filters={}))
    assert "café 日本語 — ok" in line and line.endswith("\n")


LINK_VALUES = {
    "superscript digit": "²",
    "arabic-indic digits": "٣",
    "fullwidth digits": "１２",
    "markdown": "![x](http://127.0.0.1:9/leak)",
}


@pytest.mark.parametrize("value", LINK_VALUES.values(), ids=LINK_VALUES.keys())
def test_an_approvals_link_naming_no_number_opens_the_inbox(store, value):
    """`?approval=` comes from a link anyone can send: a value `str.isdigit` takes but `int`
    refuses (a superscript) stopped the page with a traceback."""
    approval = _approval(store, "high")
    at = app_at(APPROVALS_PAGE, query={"approval": value})
    assert not at.exception
    assert any("delete 1 file" in t.value for t in at.text), "the inbox still shows its list"
    assert approval.id is not None


FORGED_LINKS = {
    "superscript expiry": {"item": "approval-1", "exp": "²", "nonce": "a" * 16, "sig": "x"},
    "non-ascii signature": {"item": "approval-1", "exp": "1", "nonce": "a" * 16, "sig": "é"},
    "arabic-indic expiry": {"item": "run-abc", "exp": "٣٣", "nonce": "a" * 16, "sig": "0" * 64},
}


@pytest.mark.parametrize("params", FORGED_LINKS.values(), ids=FORGED_LINKS.keys())
def test_a_forged_notification_link_is_refused_not_a_traceback(store, params):
    """Anyone can send a dashboard address: `exp=²` passed `str.isdigit` and stopped `int`, a
    non-ASCII `sig` stopped `hmac.compare_digest`; every page showed a traceback instead."""
    from agent_core.oversight.notify.links import LinkRefused, check_link

    with pytest.raises(LinkRefused):
        check_link(b"k" * 32, params)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    assert not at.exception
    assert any("not one onloop signed" in e.value for e in at.error)


def _twins(store: storage.Store) -> str:
    """Two runs whose ids share their first 6 characters; returns that prefix."""
    from sqlmodel import Session

    first = storage.create_run(store, goal="twin 1")
    with Session(store.engine) as session:
        twin = storage.Run(**first.model_dump(exclude={"id"}), id=first.id[:6] + "zzzzzz")
        session.add(twin)
        session.commit()
    return first.id[:6]


RUN_LINKS = {
    "longer than sqlite's like pattern": lambda store: "a" * 100_000,
    "a prefix of two runs": _twins,
}


@pytest.mark.parametrize("make", RUN_LINKS.values(), ids=RUN_LINKS.keys())
def test_a_run_link_naming_no_one_run_says_so_not_a_traceback(store, make):
    """`?run=` is anyone's to write: 100,000 characters made SQLite refuse the prefix search
    ("LIKE or GLOB pattern too complex"), a prefix two runs share raised the store's "matches
    several runs"; the Run page showed a traceback for both."""
    storage.create_run(store, goal="another run")
    wanted = make(store)
    at = app_at(RUN_PAGE, query={"run": wanted})
    assert not at.exception
    assert at.error, "the page says what is wrong with the link"
    assert at.selectbox(key="run_pick").options, "and offers the runs to pick from"


ACTING = ("\u202e", "\x1b", "\u2066", "\u200b")


def _acting(frame) -> list[str]:
    return [
        str(cell)
        for column in frame.columns
        for cell in frame[column]
        if any(char in str(cell) for char in ACTING)
    ]


def test_the_audit_tables_show_acting_characters_not_obey_them(store):
    """The Decisions and Steering tables put a model's summary, its tool, the allowance's name
    (built from the model's arguments), the note and who decided into dataframe cells: plain
    text, but drawn by the browser, where a bidi override reorders a cell ("delete gpj.exe")
    and ESC sequences show as whatever the grid makes of them. Other tables pass inert.visible."""
    from agent_core.oversight import decisions

    approval = _approval(store, "high")
    storage.update_run(store, run_id=approval.run_id, status="waiting", reason="waits")
    with_summary = {"summary": "delete \u202egpj.exe\x1b[2J"}
    from sqlmodel import Session

    with Session(store.engine) as session:
        row = session.get(storage.Approval, approval.id)
        for name, value in with_summary.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()
    decisions.reject(store, approval_id=approval.id, by="eve\u2066 admin", note="no\u200b way")
    storage.send_command(store, run_id=approval.run_id, kind="pause", created_by="mallory\u202e")
    at = app_at(RUN_PAGE, query={"run": approval.run_id})
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    assert any("what" in f.columns and "note" in f.columns for f in frames), "the audit shows"
    found = [cell for frame in frames for cell in _acting(frame)]
    assert found == [], found


def test_a_rule_the_export_cannot_write_leaves_the_policy_page_standing(
    store, tmp_path, monkeypatch
):
    """A lone surrogate (a model's `\\ud800` in JSON arguments, kept in a folder rule) has no
    TOML form: the page says so where the export button was, instead of a traceback."""
    from agent_core.oversight.project_rules import add_rule

    monkeypatch.chdir(tmp_path)
    add_rule(store, {"tool": "read_file", "paths": ["docs/\ud800/**"], "action": "ask"}, by="ann")
    at = app_at("views/policy.py")
    assert not at.exception
    assert any("no TOML form" in e.value for e in at.error)


def _asking(store: storage.Store, tool: str, arguments: dict, workspace: str | None = None):
    run = storage.create_run(store, goal="ordinary goal", workspace=workspace)
    storage.update_run(store, run_id=run.id, status="waiting", reason="waits")
    seq = storage.append_event(store, run_id=run.id, kind="approval_requested", payload={})
    return storage.create_approval(
        store,
        run_id=run.id,
        request_seq=seq,
        tool_call_id="c2",
        tool=tool,
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk="high",
        reason="asked",
        summary="a call",
    )


def test_the_delete_preview_lists_one_line_per_path(store):
    """The list of paths a delete would remove sits in a box one line high per path: a path
    with forty newlines showed "tmp.txt" on its first line and scrolled the rest (the real
    target) out of the box. A path's newlines are shown as escapes, as in every one-line place."""
    target = "tmp.txt" + "\n" * 40 + "/home/me/.ssh"
    approval = _asking(store, "delete_files", {"paths": [target]})
    at = app_at(RUN_PAGE, query={"run": approval.run_id})
    assert not at.exception
    [listed] = [t.value for t in at.text if t.value.startswith("tmp.txt")]
    assert "\n" not in listed and listed.endswith("/home/me/.ssh")


def test_the_write_preview_diff_header_is_one_line(store, tmp_path):
    """The diff of a write names the file in its header: a file name holding a newline and
    `+++`/`@@` lines wrote a header of its own, and lines that looked like the change."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    name = "notes.txt\n+++ notes.txt (after)\n@@ -1 +1 @@\n-secret = 1\n+secret = 1"
    (workspace / name).write_text("old\n")
    approval = _asking(store, "write_file", {"path": name, "content": "new\n"}, str(workspace))
    at = app_at(RUN_PAGE, query={"run": approval.run_id})
    assert not at.exception
    [diff] = [c.value for c in at.code if "(now)" in c.value]
    assert diff.splitlines()[0].startswith("--- notes.txt\\x0a+++")
    assert "\n-secret = 1" not in diff


def test_the_approval_cards_action_line_is_one_line(store):
    """The card's first line names the action (`write <path>`); a path with newlines drew
    "write notes.txt" there and the real target many lines further down, past the buttons'
    row on a phone. One-line places show a newline as an escape."""
    path = "notes.txt" + "\n" * 30 + ".ssh/authorized_keys"
    approval = _asking(store, "write_file", {"path": path, "content": "x"})
    storage_summary = f"write {path}"
    from sqlmodel import Session

    with Session(store.engine) as session:
        row = session.get(storage.Approval, approval.id)
        row.summary = storage_summary
        session.add(row)
        session.commit()
    at = app_at(RUN_PAGE, query={"run": approval.run_id})
    assert not at.exception
    [line] = [t.value for t in at.text if t.value.startswith("write notes.txt")]
    assert "\n" not in line and line.endswith(".ssh/authorized_keys")
