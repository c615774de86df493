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

import storage
from agent_core.tools import args_hash
from dashboard.components.run_export import export_jsonl, export_lines
from dashboard.routes import RUN_PAGE
from tests.support.dashboard_fixtures import app_at

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
