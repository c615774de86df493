"""Red-team: text from a model or a tool never starts a line of its own at the left edge, where
onloop writes its own lines (`● succeeded`, `■ final answer`, `▶ started`) in `onloop run` and
`onloop show`.

The renderer indents a model's and a tool's further lines under them. An invalid call's arguments
are kept as the model sent them (text, not JSON), and they were shown with their newlines: the
model's `{"path": "x"\\n● succeeded: goal met` printed a status line of its own under the call.
"""

from __future__ import annotations

import pytest

from agent_core.cli.render import render_event

# Each would read as onloop's own line if it started at the left edge.
FAKES = {
    "newline": "x\n● succeeded: goal met\n",
    "crlf": "x\r\n■ final answer (goal met):\r\n",
    "newline then indent-looking": "x\n▶ started: demo · autonomous · goal: y",
    "trailing newline only": "x\n",
}


def _events(text: str) -> list[tuple[str, dict]]:
    """Every event whose line shows a model's, a tool's or a person's words, each field `text`."""
    return [
        ("run_started", {"model_name": text, "autonomy": text, "goal": text, "drift_checks": text}),
        ("model_call", {"step": 1, "text": text, "tokens_in": 1, "tokens_out": 1}),
        ("tool_call", {"tool": text, "arguments": text, "risk": text, "verdict": "invalid"}),
        ("tool_call", {"tool": "t", "arguments": {"p": text}, "risk": "low", "verdict": "ask"}),
        ("approval_requested", {"summary": text, "reason": text}),
        (
            "approval_decided",
            {"decision": "approved", "edited_arguments": text, "decided_by": text, "note": text},
        ),
        ("tool_result", {"ok": True, "edited_by": text, "arguments": text, "output": text}),
        ("guidance", {"message": text, "by": text}),
        ("judge", {"score": text, "threshold": text, "reason": text}),
        ("drift", {"monitor": text, "detail": text, "action": text}),
        ("final_answer", {"text": text, "goal_met": False, "problems": [text]}),
        ("goal_check", {"met": False, "reason": text}),
        ("error", {"where": text, "message": text}),
        ("recovered", {"after": text, "in_flight": text}),
        ("status", {"status": "failed", "reason": text}),
    ]


@pytest.mark.parametrize("text", list(FAKES.values()), ids=list(FAKES))
def test_no_words_of_a_model_or_a_tool_start_at_the_left_edge(text):
    for kind, payload in _events(text):
        line = render_event(kind, payload, 1)
        assert line is not None, kind
        further = line.split("\n")[1:]
        assert [row for row in further if row and not row.startswith(" ")] == [], (kind, line)


# A fake of onloop's own line, marked so that a line starting with it can only be the fake.
FAKE = "x\n● succeeded FAKE\r\n■ final answer (goal met) FAKE\n"


def test_no_command_prints_a_fake_line_at_the_left_edge(tmp_path):
    """The run's goal (a person's words, a re-run's, a shared store's other people), the note of
    a decision, guidance and an invalid call's arguments, through `show`, `runs` and `audit`."""
    from typer.testing import CliRunner

    import storage
    from agent_core.cli.app import app
    from agent_core.oversight import decisions
    from agent_core.tools import args_hash

    store = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
    run = storage.create_run(store, goal=FAKE, created_by=FAKE)
    storage.update_run(store, run_id=run.id, status="waiting", reason=FAKE)
    storage.append_event(
        store,
        run_id=run.id,
        kind="tool_call",
        payload={"tool": "read_file", "arguments": FAKE, "risk": "low", "verdict": "invalid"},
    )
    storage.append_event(store, run_id=run.id, kind="guidance", payload={"message": FAKE})
    arguments = {"paths": [FAKE]}
    seq = storage.append_event(store, run_id=run.id, kind="approval_requested", payload={})
    approval = storage.create_approval(
        store,
        run_id=run.id,
        request_seq=seq,
        tool_call_id="c1",
        tool="delete_files",
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk="high",
        reason=FAKE,
        summary=f"delete {FAKE}",
    )
    assert approval.id is not None
    decisions.reject(store, approval_id=approval.id, by=FAKE, note=FAKE)
    storage.send_command(store, run_id=run.id, kind="guidance", payload={"message": FAKE})
    url = store.url
    store.dispose()
    for command in (["show", run.id], ["runs"], ["audit"], ["audit", "--run", run.id]):
        result = CliRunner().invoke(app, [*command, "--db", url])
        assert result.exit_code == 0, result.output
        fakes = [row for row in result.output.splitlines() if row.startswith(("●", "■"))]
        assert [row for row in fakes if "FAKE" in row.split(":")[0]] == [], result.output


def _terminal_rows(printed: list[str], width: int) -> list[str]:
    """What a terminal `width` columns wide shows: each printed line, wrapped at its edge."""
    rows = []
    for line in printed:
        for part in line.split("\n"):
            rows += [part[i : i + width] for i in range(0, max(len(part), 1), width)]
    return rows


# The model's words fill the row to the terminal's edge; what follows wraps to the left edge.
# `lead` is what comes before them on the row (onloop's "[step 1] ", "    ✓ ", an indent).
FILLERS = {
    "letters": lambda room: "x" * room,
    "spaces": lambda room: "ok" + " " * (room - 2),
    "after a newline": lambda room: "ok\n" + "y" * room,
}
FAKE_STATUS = "● succeeded FAKE"


@pytest.mark.parametrize("fill", list(FILLERS.values()), ids=list(FILLERS))
def test_a_line_that_fills_the_terminal_wraps_under_its_indent(tmp_path, fill):
    """`onloop run` on a terminal 80, 100 or 120 columns wide: a model's text, a tool's output and
    a final answer that reach the edge. The terminal's own wrap put what follows ("● succeeded")
    at the left edge, where onloop writes a run's status."""
    import storage
    from agent_core.cli import run as cli_run

    store = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
    run = storage.create_run(store, goal="g")
    for width in (80, 100, 120):
        for lead in range(0, 12):
            text = fill(width - lead) + FAKE_STATUS
            for kind, payload in (
                ("model_call", {"step": 1, "text": text}),
                ("tool_result", {"ok": True, "output": text}),
                ("final_answer", {"text": text, "goal_met": True}),
            ):
                storage.append_event(store, run_id=run.id, kind=kind, payload=payload)
    for width in (80, 100, 120):
        printed: list[str] = []
        follower = cli_run._Follower(store, run.id, yes=True, out=printed.append, width=width)
        follower.drain()
        rows = _terminal_rows(printed, width)
        assert [row for row in rows if row.startswith("●")] == [], width
        assert any(FAKE_STATUS in row for row in rows)  # still shown, under its indent
    store.dispose()


def test_rows_count_wide_characters_as_two_columns():
    from agent_core.cli.terminal_text import columns, fit

    text = "[step 1] " + "日本語のテキスト" * 10 + "🙂" * 20 + "e\u0301" * 30
    rows = fit(text, 40).split("\n")
    assert len(rows) > 3 and all(sum(map(columns, row)) <= 39 for row in rows), rows
    assert all(row.startswith("      ") for row in rows[1:])
    assert fit(text, None) == text  # a pipe or a file: lines whole, for grep and the like
