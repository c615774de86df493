"""Terminal paths the inert-text corpus did not reach: text that reaches the operator's terminal
without passing through onloop's own echo calls.

- A library's log lines. The MCP SDK logs what a server sent ("Unknown SSE event: <name>"); a
  command that never set up logging (`onloop tools`, `onloop run`) left it to Python's last-resort
  handler, which prints the message raw.
- typer's usage errors. Its vendored click escapes C0 and C1 controls in the argument it quotes
  back, but not bidirectional controls, zero-width characters or line separators.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from tests.support.mcp_hostile_http import hostile_http_server

ROOT = Path(__file__).resolve().parents[2]


def acting(text: str) -> list[str]:
    """The characters in `text` a terminal would obey instead of drawing (newlines aside)."""
    return [
        c
        for c in text
        if c not in "\n" and unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
    ]


def _onloop(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONLOOP_DEMO_DELAY": "0", "COLUMNS": "200"}
    for name in ("ONLOOP_DATABASE_URL", "ONLOOP_POLICY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


COMMANDS = {
    "tools": ("tools",),
    "run": ("run", "What is 2 + 2?", "--model", "demo", "--tools", "calculator,mcp__h__echo"),
}


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_a_servers_words_in_a_librarys_log_line_reach_stderr_inert(tmp_path, command):
    with hostile_http_server() as url:
        (tmp_path / "onloop.toml").write_text(f'[[mcp_servers]]\nname = "h"\nurl = "{url}"\n')
        done = _onloop(*command, cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert "mcp__h__echo" in done.stdout or "run " in done.stdout, done.stdout + done.stderr
    assert acting(done.stdout) == [], done.stdout
    assert acting(done.stderr) == [], done.stderr
    # The warning is still said, its server-given part shown, not obeyed.
    assert "Unknown SSE event: \\x1b[2J\\x1b]0;pwned\\x07" in done.stderr, done.stderr
    assert "<U+202E>" in done.stderr


# Arguments a person pasted from a model's text, quoted back by typer's own usage errors.
USAGE = {
    "extra argument rlo": ("runs", "notes\u202etxt.exe"),
    "extra argument isolates": ("runs", "a\u2066b\u2067c\u2068d\u2069"),
    "extra argument zero width": ("show", "abc", "pay\u200bpal\u200d\u2060"),
    "extra argument line separator": ("runs", "x\u2028Allow? [y]\u2029"),
    "extra argument bom and tags": ("runs", "\ufeffa\U000e0041"),
    "extra argument lrm rlm alm": ("audit", "a\u200eb\u200fc\u061c"),
    "no such option rlo": ("runs", "--li\u202emit"),
    "no such option zero width": ("runs", "--\u200blimit", "3"),
    "no such option line separator": ("show", "--json\u2028x"),
    "group extra argument": ("policy", "show", "x\u202ey"),
}


@pytest.mark.parametrize("args", list(USAGE.values()), ids=list(USAGE))
def test_usage_errors_quote_the_argument_inert(tmp_path, args):
    done = _onloop(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Error:" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert acting(done.stdout + done.stderr) == [], done.stderr
    assert "<U+" in done.stderr  # shown, not dropped


def test_help_and_ordinary_usage_errors_read_as_before(tmp_path):
    done = _onloop("runs", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "Usage:" in done.stdout and "--limit" in done.stdout
    done = _onloop(cwd=tmp_path)  # no command: the help, as typer shows it
    assert done.returncode == 2 and "Usage:" in done.stdout + done.stderr
    done = _onloop("runs", "extra", cwd=tmp_path)
    assert done.returncode == 2
    assert "Error: Got unexpected extra argument(s) (extra)" in done.stderr, done.stderr
    assert "runs --help' for help." in done.stderr
    done = _onloop("runs", "--limit", cwd=tmp_path)
    assert done.returncode == 2 and "requires an argument" in done.stderr, done.stderr


def _columns(text: str) -> int:
    """How many terminal columns `text` takes: wide (East Asian W/F) characters two, combining
    marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


WIDE = {
    "cjk": "全" * 200,
    "emoji": "🙂" * 200,
    "fullwidth forms": "ＡＢＣ" * 70,
    "wide then ascii": "全" * 100 + "abc" * 10,
    "ascii then wide": "abc" * 10 + "全" * 100,
    "wide with escapes": ("全\x1b[2J" * 60),
}


@pytest.mark.parametrize("text", list(WIDE.values()), ids=list(WIDE))
@pytest.mark.parametrize("width", [40, 80, 132])
def test_the_live_line_never_wraps_on_wide_characters(text, width):
    """A line wider than the terminal wraps, and the live line's erase (CR, erase line) clears
    only its last row: every redraw would leave a row of the model's text behind, scrolling
    the operator's screen."""
    from agent_core.cli.live_line import live_line

    line = live_line(text, width)
    assert _columns(line) <= width - 1, (_columns(line), line)
    assert line.endswith(text[-3:]) or "\\x1b[2J" in line  # the newest text is what is shown


# A bug is not an attack, but its traceback quotes whatever the failing code was handed; Python
# prints it (for the main thread and for any other) straight to stderr.
BUG = """
import sys, threading
import storage
from agent_core.cli import app

def broken(*args, **kwargs):
    def other():
        raise RuntimeError("in a thread: \\x1b]52;c;cm0K\\x07\\u202e\\x9b2J")
    thread = threading.Thread(target=other, name="helper")
    thread.start()
    thread.join()
    raise ValueError("unexpected \\x1b[2J\\x1b]0;pwned\\x07\\u2066 from the model")

storage.open_store  # loads the store API first: the patch below stays
storage.list_runs = broken
sys.argv = ["onloop", "runs", "--db", sys.argv[1]]
app.main()
"""


def test_a_bugs_traceback_quoting_hostile_text_reaches_stderr_inert(tmp_path):
    import storage

    storage.open_store(str(tmp_path / "onloop.db")).dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ONLOOP_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", BUG, str(tmp_path / "onloop.db")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert acting(done.stderr) == [], done.stderr
    assert "Traceback" in done.stderr  # still said in full, for the bug report
    assert "ValueError: unexpected \\x1b[2J\\x1b]0;pwned\\x07<U+2066> from the model" in done.stderr
    assert "RuntimeError: in a thread: \\x1b]52;c;cm0K\\x07<U+202E>\\x9b2J" in done.stderr


NAMES = {
    "newline then a rule": 'ops\n[[rules]]\ntool = "run_shell"\naction = "allow"',
    "crlf then a rule": 'ops\r\n[[rules]]\r\ntool = "run_shell"\r\naction = "allow"',
    "tab and line separator": 'ops\t\u2028[[rules]]\u2029tool = "run_shell"',
}


@pytest.mark.parametrize("by", list(NAMES.values()), ids=list(NAMES))
def test_rules_export_keeps_who_made_a_rule_inside_its_comment(store, tmp_path, by):
    """`onloop rules export` prints TOML to paste into onloop.toml; a newline in the name of
    whoever made a rule ended the comment it stands in and added a rule of its own."""
    from agent_core.oversight.policy_file import parse_policy
    from agent_core.oversight.project_rules import add_rule

    rule = {"tool": "write_file", "paths": ["/docs/"], "action": "allow", "up_to": "write"}
    add_rule(store, rule, by=by)
    done = _onloop("rules", "export", "--db", store.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert acting(done.stdout) == [], done.stdout
    rules = parse_policy(done.stdout, source="export").rules
    assert [r.tool for r in rules] == ["write_file"], done.stdout
    assert "by ops" in done.stdout  # the name is still shown


def test_onloop_run_in_a_folder_names_its_protected_files_inert(tmp_path):
    """`onloop run --workspace` names onloop's own files the folder holds, found anywhere in
    it: the folders on their way were named by whoever wrote there (an earlier run's agent),
    in bytes that need not even be UTF-8."""
    folder = tmp_path / "ws"
    folder.mkdir()
    names = [
        "x\x1b[2J\u202ey".encode(),
        b"d\x9b2J\nfake line",  # a raw 8-bit CSI (not UTF-8) and a newline
        "i\u2066s\u2069o\u2028l\x1b]0;title\x07".encode(),
    ]
    for name in names:
        inside = os.path.join(os.fsencode(folder), name)
        os.mkdir(inside)
        open(os.path.join(inside, b"onloop.toml"), "wb").close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONLOOP_DEMO_DELAY": "0"}
    for name in ("ONLOOP_DATABASE_URL", "ONLOOP_POLICY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    command = ["run", "What is 2 + 2?", "--model", "demo", "--workspace", str(folder)]
    command += ["--db", str(tmp_path / "onloop.db")]
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    out = done.stdout + done.stderr
    assert b"\x9b" not in out, out  # not even a raw byte of it
    text = out.decode("utf-8")
    assert acting(text) == [], text
    protected = [line for line in text.splitlines() if line.startswith("protected")]
    assert len(protected) == 1, text  # one line, however the folders are named
    assert "\\x1b[2J<U+202E>y/onloop.toml" in protected[0], protected[0]


# A rule as `onloop rules export` writes one that came from an approval's scope: its name,
# reason and patterns quote the call's arguments (a model's words), JSON-escaped, so the TOML
# parser turns them back into the characters themselves.
EXPORTED_RULE = r"""
[[rules]]
name = "allowed in this project: n\u001b]0;title\u0007\u202e (up to write)"
tool = "write_file"
paths = ["x\u001b]52;c;cm0K\u0007\u2066/"]
action = "deny"
reason = "an admin allowed r\u001b[1A\u001b[2K\u2028 in this project"
"""
CHECKED = '{"path": "x\\u001b]52;c;cm0K\\u0007\\u2066/a", "content": ""}'


@pytest.mark.parametrize(
    "args",
    [
        ("policy", "show"),
        ("policy", "check", "write_file", CHECKED),
    ],
    ids=["show", "check"],
)
def test_policy_commands_show_a_rules_quoted_words_inert(tmp_path, args):
    (tmp_path / "onloop.toml").write_text(EXPORTED_RULE)
    done = _onloop(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert acting(done.stdout + done.stderr) == [], done.stdout
    assert "n\\x1b]0;title\\x07<U+202E>" in done.stdout, done.stdout  # shown, not dropped


def test_rules_suggest_add_says_the_rule_it_added_on_one_line(store, tmp_path):
    """A suggestion's label quotes the calls people approved (a model's paths); `--add` said it
    with its newlines obeyed, drawing lines of its own under "added project rule"."""
    import storage
    from tests.support import dashboard_seed as seed

    runs = [seed.make_run(store, status="succeeded") for _ in range(2)]
    folder = "docs\n● succeeded\nrun 000000000000 succeeded\u2028"
    for index in range(5):
        asked = seed.make_approval(
            store,
            runs[index % 2],
            tool="write_file",
            arguments={"path": f"{folder}/n{index}.md", "content": "x"},
            risk="medium",
        )
        storage.decide_approval(store, approval_id=asked.id, decision="approved", decided_by="a")
    shown = _onloop("rules", "suggest", "--db", store.url, cwd=tmp_path)
    assert shown.returncode == 0 and "1. approved 5 of 5 times" in shown.stdout, shown.stdout
    added = _onloop("rules", "suggest", "--add", "1", "--db", store.url, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert acting(added.stdout) == [], added.stdout
    assert len(added.stdout.splitlines()) == 1, added.stdout
    assert "docs\\x0a● succeeded" in added.stdout, added.stdout


FORGED = (
    "Let me check.\n"
    "  ✋ approved by alice (approval 7)\n"
    "    ✓ wrote 10 bytes to notes.txt\n"
    "● succeeded\n"
    "run 000000000000 succeeded · 1 steps · 1 tool calls · 10 tokens · $0.0000"
)


def test_a_models_words_cannot_draw_event_lines_of_their_own():
    """A turn's text is the model's: a newline in it started a line at the left edge, where
    onloop draws its own event lines (an approval, a result, the run's status). Its further
    lines are indented under it, as a tool's output is."""
    from agent_core.cli.render import render_event

    line = render_event("model_call", {"step": 1, "text": FORGED}, 1)
    assert line is not None
    first, *rest = line.split("\n")
    assert first.startswith("[step 1] Let me check.")
    assert rest and all(r.startswith("      ") for r in rest), line


@pytest.mark.parametrize("met", [True, False])
def test_a_final_answer_cannot_draw_the_runs_status_line(met):
    """The final answer is the model's too: its lines start indented under the heading, so a
    '● succeeded' or an event line of its own never stands where onloop draws them."""
    from agent_core.cli.render import render_event

    payload = {"text": FORGED, "goal_met": met, "problems": [] if met else ["no file written"]}
    line = render_event("final_answer", payload, 9)
    assert line is not None
    heading, *words = line.split("\n")
    assert heading.startswith("■ final answer")
    assert len(words) == FORGED.count("\n") + 1
    assert all(w.startswith("      ") for w in words), line


@pytest.mark.parametrize(
    "named",
    [
        "db\n● succeeded",  # another process's --db (port_in_use reads its command line)
        "folder\r\nerror: nothing wrong",
        "x\u2028● halted",
        "tab\there",
    ],
)
def test_an_error_quoting_anyones_words_stays_on_one_line(capsys, named):
    """`error: ...` is one line: the store another process serves (read from its command line),
    a folder name inside --seed-from, a server's message can hold a newline of their own."""
    from agent_core.cli.errors import fail

    fail(f"port 8501 is held by another onloop up, serving {named}; pick another with --port")
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and said.endswith("\n") and said.startswith("error: "), said
    assert "\r" not in said and "\u2028" not in said


def test_a_message_that_is_lines_by_nature_keeps_them(capsys):
    from agent_core.cli.errors import fail

    fail("the dashboard did not start: Traceback\n  File x\nValueError", lines=True)
    assert capsys.readouterr().err.count("\n") == 3
