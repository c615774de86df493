"""The redactor is built once and reused while its inputs stand (the worker's environment, the
policy's secrets, the run's secret files), rebuilt when any of them changes mid-run; and the
payload walk, with its memory of short texts, redacts exactly as the plain walk did."""

from __future__ import annotations

import base64
import enum
import random
import threading
from typing import Any

from agent_core.oversight.confinement import run_redactor, tool_context
from agent_core.oversight.policy_file import default_policy_text, parse_policy
from agent_core.oversight.redact import SEEN_CAP, SEEN_CHARS, Redactor, redactor_for
from agent_core.tools import Workspace

POLICY = parse_policy(
    default_policy_text(), source="defaults"
)  # with the secrets rule (.env, keys...)


def test_the_same_environment_gives_the_same_redactor_without_a_rebuild():
    assert redactor_for() is redactor_for()
    assert redactor_for(["MY_NAME"], ["x+y"]) is redactor_for(["MY_NAME"], ["x+y"])
    assert redactor_for(["MY_NAME"]) is not redactor_for()


def test_a_secret_set_in_the_environment_after_the_first_build_is_redacted(monkeypatch):
    before = redactor_for()
    assert before("value: late-secret-0123456789") == "value: late-secret-0123456789"
    monkeypatch.setenv("LATE_API_TOKEN", "late-secret-0123456789")
    after = redactor_for()
    assert after is not before
    assert after("value: late-secret-0123456789") == "value: [redacted LATE_API_TOKEN]"
    monkeypatch.setenv("LATE_API_TOKEN", "changed-secret-9876543210")  # changed in place
    again = redactor_for()
    assert again("changed-secret-9876543210") == "[redacted LATE_API_TOKEN]"
    assert again("late-secret-0123456789") == "late-secret-0123456789"
    monkeypatch.delenv("LATE_API_TOKEN")
    assert redactor_for()("changed-secret-9876543210") == "changed-secret-9876543210"


def test_a_configured_secret_set_mid_run_reaches_the_tool_context(monkeypatch, tmp_path):
    policy = POLICY.model_copy(
        update={"sandbox": POLICY.sandbox.model_copy(update={"secret_env": ["PLAIN_SETTING"]})}
    )
    workspace = Workspace(tmp_path)
    first = tool_context(policy, threading.Event(), workspace)
    assert first.redact("abc-plain-value") == "abc-plain-value"
    monkeypatch.setenv("PLAIN_SETTING", "abc-plain-value")
    later = tool_context(policy, threading.Event(), workspace)
    assert later.redact("abc-plain-value") == "[redacted PLAIN_SETTING]"


def test_a_secret_file_written_or_changed_mid_run_is_redacted_from_the_next_call(tmp_path):
    workspace = Workspace(tmp_path)
    (tmp_path / "notes.txt").write_text("nothing secret\n")
    empty = run_redactor(POLICY, workspace)
    assert empty is run_redactor(POLICY, workspace)  # nothing changed: no rebuild
    (tmp_path / ".env").write_text("API_KEY=file-secret-0123456789\n")
    found = run_redactor(POLICY, workspace)
    assert "file-secret-0123456789" not in found("got file-secret-0123456789")
    assert found is run_redactor(POLICY, workspace)  # the same values: the same redactor
    (tmp_path / ".env").write_text("API_KEY=other-secret-9876543210\n")
    changed = run_redactor(POLICY, workspace)
    assert "other-secret-9876543210" not in changed("got other-secret-9876543210")
    (tmp_path / ".env").unlink()
    gone = run_redactor(POLICY, workspace)
    assert gone("got other-secret-9876543210") == "got other-secret-9876543210"


class Colour(enum.StrEnum):
    RED = "red-sk-proj-abcdefghijklmnopqrstuvwx"
    PLAIN = "plain"


SECRET = "s3cr3t-value-0123456789"
WORDS = [
    "ok",
    "tool",
    "arguments",
    SECRET,
    f"before {SECRET} after",
    base64.b64encode(SECRET.encode()).decode(),
    SECRET.upper(),
    " ".join(SECRET),
    "ghp_" + "a" * 36,
    "AKIA" + "B" * 16,
    "token=abc 123",
    "x" * (SEEN_CHARS - 1) + SECRET[:1],
    "y" * SEEN_CHARS,
    "z" * (SEEN_CHARS + 1) + SECRET,
    "",
    "line one\nline two",
]


def _old_payload(redact: Redactor, value: Any) -> Any:
    """The payload walk before the memory of short texts (the reference)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_old_payload(redact, k): _old_payload(redact, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_old_payload(redact, v) for v in value]
    return value


def _value(rng: random.Random, depth: int) -> Any:
    pick = rng.randrange(12 if depth < 4 else 8)
    if pick < 3:
        return rng.choice(WORDS)
    if pick == 3:
        return rng.choice([0, -7, 2**70, 1.5, float("inf"), True, False, None])
    if pick == 4:
        return rng.choice(list(Colour))
    if pick == 5:
        return "".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 4)))
    if pick in (6, 7):
        return rng.choice([b"bytes stay", frozenset({1}), 3j])
    if pick < 10:
        return {rng.choice(WORDS): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    items = [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return items if pick == 10 else tuple(items)


def test_the_payload_walk_redacts_exactly_as_the_plain_walk_over_many_payloads():
    redact = Redactor({"MY_SECRET": SECRET}, ["token=\\w+"])
    rng = random.Random(2512)
    for _ in range(600):
        payload = _value(rng, 0)
        expected = _old_payload(Redactor({"MY_SECRET": SECRET}, ["token=\\w+"]), payload)
        assert redact.payload(payload) == expected
        assert redact.payload(payload) == expected  # remembered texts give the same
        assert SECRET not in repr(redact.payload(payload))


def test_the_memory_of_short_texts_is_bounded():
    redact = Redactor({"MY_SECRET": SECRET})
    for n in range(SEEN_CAP * 2 + 5):
        assert redact.payload({f"key {n}": SECRET}) == {f"key {n}": "[redacted MY_SECRET]"}
    assert len(redact._seen) <= SEEN_CAP
