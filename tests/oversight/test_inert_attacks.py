"""Hostile text from a model, a tool or a server never acts on a terminal or renders as Markdown.

The corpus (tests/support/inert_payloads.py) goes through the inert-text helper and through every CLI
command that shows run data; the browser half is tests/browser/test_inert_pages.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

import storage
from agent_core.cli import run as cli_run
from agent_core.cli.live_line import live_line
from agent_core.cli.render import render_event
from agent_core.oversight import inert
from tests.support.inert_payloads import MARKDOWN, TERMINAL, hostile, seed_hostile

BASE = "http://127.0.0.1:9"
ROOT = Path(__file__).resolve().parents[2]


def acting(text: str, *, allowed: str = "\n\t") -> list[str]:
    """The characters in `text` that a terminal would obey instead of drawing."""
    return [
        c
        for c in text
        if c not in allowed and unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
    ]


@pytest.mark.parametrize("payload", list(TERMINAL.values()), ids=list(TERMINAL))
def test_terminal_payloads_are_shown_not_obeyed(payload):
    assert acting(inert.visible(payload)) == []
    assert acting(inert.visible(payload, newlines=False, tabs=False), allowed="") == []
    assert acting(inert.markdown(payload), allowed="") == []
    assert acting(live_line(payload, 200), allowed="") == []
    shown = inert.visible("\x1b[2J \x9b \u202e \u200b \r \x08")
    assert shown == "\\x1b[2J \\x9b <U+202E> <U+200B> \\x0d \\x08"  # visible, not dropped


def test_ordinary_text_is_left_as_it_is():
    for text in ("plain words", "tab\tand\nnewline", "naïve café 日本語 🙂", "a\r\nb"):
        assert inert.visible(text) == text.replace("\r\n", "\n")
    assert inert.json_text({"k": "é\u202e"}) == '{"k": "é\\u202e"}'
    assert json.loads(inert.json_text({"k": "é\u202e\x1b\U000e0041"})) == {
        "k": "é\u202e\x1b\U000e0041"
    }


# CommonMark with the GitHub additions Streamlit turns on (tables, strikethrough) and linkify
# where it is installed: a stand-in for the browser test, fast enough to run on every payload.
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_ACTIVE_HTML = (
    "<img",
    "<a ",
    "<a>",
    "<script",
    "<iframe",
    "<svg",
    "<h1",
    "<h2",
    "<em",
    "<strong",
    "<s>",
    "<del",
    "<table",
    "<pre",
    "<code",
)


@pytest.mark.parametrize("payload", list(MARKDOWN.values()), ids=list(MARKDOWN))
def test_markdown_payloads_render_as_their_own_text(payload):
    text = payload.format(base=BASE)
    html = _MD.render(inert.markdown(text, limit=10_000))
    assert not [tag for tag in _ACTIVE_HTML if tag in html], html
    assert not re.search(r"(?<!\\)[:\[\]()<>!$*_#`~|@]", inert.markdown(text)), "unescaped"


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("ONLOOP_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=db.parent,
    )


def test_every_cli_command_that_shows_run_data_shows_the_corpus_inert(tmp_path):
    db = tmp_path / "onloop.db"
    store = storage.open_store(str(db))
    seeded = seed_hostile(store, BASE)
    store.dispose()
    waiting, done = seeded["waiting"].id, seeded["done"].id
    commands = [
        ("runs",),
        ("show", waiting),
        ("show", done),
        ("show", done, "--json"),
        ("runs", "--json"),
        ("audit",),
        ("audit", "--json"),
        ("approve", waiting),
        ("show", "no-such-\x1b[2J-run"),  # an error that quotes what it was given
    ]
    for command in commands:
        result = _cli(*command, db=db)
        output = result.stdout + result.stderr
        assert acting(output) == [], (command, output[:400])
        assert "Traceback" not in output, output
    shown = _cli("show", waiting, db=db).stdout
    assert "\\x1b[2J" in shown and "<U+202E>" in shown  # shown, not dropped


def test_the_approval_prompt_and_follower_lines_show_the_corpus_inert(tmp_path, monkeypatch):
    store = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
    seeded = seed_hostile(store, BASE)
    printed: list[str] = []
    prompts: list[str] = []
    monkeypatch.setattr(cli_run.typer, "prompt", lambda text, **_: prompts.append(text) or "n")
    follower = cli_run._Follower(store, seeded["waiting"].id, yes=False, out=printed.append)
    follower.interactive = True
    follower.drain()  # prints every event, then asks about the pending approval
    store.dispose()
    assert len(prompts) == 2  # allow? then the note for a rejection
    assert acting(prompts[0], allowed="") == [], prompts[0]
    assert prompts[0].count("\n") == 0 and "Allow write notes/" in prompts[0]
    assert all(acting(line) == [] for line in printed), printed
    for text in hostile(BASE):
        line = render_event("approval_requested", {"summary": text, "reason": text}, 1)
        assert line is not None and acting(line, allowed="") == [], line


@pytest.mark.parametrize(
    "name",
    [
        "read\u202efdp.exe",  # right-to-left override reverses the axis label
        '<a href="http://127.0.0.1:9/x">tool</a>',
        "<b>bold</b><br>second line",
        '<img src="http://127.0.0.1:9/i.png">',
        "tool\x1b]8;;http://127.0.0.1:9/\x07link\x1b]8;;\x07",
        "two\nlines\tand tab",
        "zero\u200bwidth\u2066isolate",
    ],
)
def test_chart_labels_carry_no_markup_and_no_acting_characters(name):
    from dashboard.components.insight_charts import label

    shown = label(name)
    assert "<" not in shown and ">" not in shown, shown
    assert acting(shown, allowed="") == [], shown


@pytest.mark.parametrize("payload", list(MARKDOWN.values()), ids=list(MARKDOWN))
def test_a_persons_name_is_as_inert_as_any_text_but_its_address(payload):
    text = payload.format(base=BASE)
    html = _MD.render(inert.person(text, limit=10_000))
    assert not [tag for tag in _ACTIVE_HTML if tag in html], html
    assert inert.person("april@example.test") == "april\\@example.test"  # not april[@]...
