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
