"""The terminal's approval prompt: nothing is approved by Enter alone, edits are typed as JSON,
"always" offers scopes narrowest first, and Ctrl-C leaves no decision behind."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

import storage
from agent_core.cli import run as cli_run
from tests.support import dashboard_seed as seed


def follower(store, run_id, answers, monkeypatch):
    """A terminal follower whose prompts get `answers` in order; what it printed and was asked."""
    printed: list[str] = []
    asked: list[str] = []
    queue = list(answers)

    def prompt(text, **_):
        asked.append(text)
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(cli_run.typer, "prompt", prompt)
    found = cli_run._Follower(store, run_id, yes=False, out=printed.append)
    found.interactive = True
    return found, printed, asked


def pending(store, **approval):
    run = seed.make_run(store, status="waiting")
    return run, seed.make_approval(store, run, **approval)


def test_enter_alone_rejects_a_risky_call_and_anything_unclear_asks_again(store, monkeypatch):
    run, approval = pending(store, risk="high")
    terminal, printed, asked = follower(store, run.id, ["maybe", "", "why not"], monkeypatch)
    terminal._decide(approval)
    assert asked[0].endswith("[y]es / [N]o / [e]dit / [a]lways for this run")
    assert len([q for q in asked if "Allow" in q]) == 2
    assert any("type y (approve)" in line for line in printed)
    rejected = storage.get_approval(store, approval_id=approval.id)
    assert (rejected.status, rejected.note) == ("rejected", "why not")


def test_enter_alone_approves_a_low_risk_call(store, monkeypatch):
    run, approval = pending(store, risk="low")
    terminal, _, asked = follower(store, run.id, [""], monkeypatch)
    terminal._decide(approval)
    assert asked[0].endswith("[Y]es / [n]o / [e]dit / [a]lways for this run")
    assert storage.get_approval(store, approval_id=approval.id).status == "approved"


def test_edit_approves_the_typed_arguments_after_a_mistake_is_explained(store, monkeypatch):
    run, approval = pending(store, tool="write_file", arguments={"path": "a.md", "content": "x"})
    answers = ["e", "{not json", '{"path": "a.md", "content": "fixed"}']
    terminal, printed, _ = follower(store, run.id, answers, monkeypatch)
    terminal._decide(approval)
    decided = storage.get_approval(store, approval_id=approval.id)
    assert decided.status == "approved"
    assert decided.edited_arguments == {"path": "a.md", "content": "fixed"}
    assert any("not valid JSON" in line for line in printed)


def test_always_offers_scopes_narrowest_first_and_defaults_to_the_exact_call(store, monkeypatch):
    run, approval = pending(store, tool="run_shell", arguments={"command": "pip install requests"})
    terminal, printed, _ = follower(store, run.id, ["a", "1"], monkeypatch)
    terminal._decide(approval)
    assert printed[0].strip() == "1. this exact call"
    assert "pip install" in printed[1]
    decided = storage.get_approval(store, approval_id=approval.id)
    assert (decided.status, decided.allow_scope) == ("approved", "call")


@pytest.mark.parametrize("interrupt", [typer.Abort(), EOFError(), KeyboardInterrupt()])
def test_ctrl_c_at_the_prompt_decides_nothing(store, monkeypatch, interrupt):
    run, approval = pending(store)
    terminal, _, _ = follower(store, run.id, [interrupt], monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        terminal._decide(approval)
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"


def test_help_keeps_the_bracketed_names_of_policy_tables():
    from typer.testing import CliRunner

    from agent_core.cli.app import app

    shown = CliRunner().invoke(app, ["up", "--help"], terminal_width=200).output
    assert "request_timeout_s under [model] in the policy" in shown
    assert "[auth] for OpenID Connect" in shown and "[roles]" in shown


def test_show_lists_the_scopes_and_revoke_withdraws_an_allowance(store, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from agent_core.cli.app import app
    from agent_core.oversight.decisions import approve

    run, approval = pending(store, tool="run_shell", arguments={"command": "pip install requests"})
    db = ["--db", store.url]
    shown = CliRunner().invoke(app, ["show", run.id, *db], terminal_width=200).output
    assert f"waiting for approval {approval.id}: onloop approve {run.id} [--allow SCOPE]" in shown
    assert "--allow call: this exact call" in shown
    assert "--allow prefix: `pip install *` commands" in shown
    approve(store, approval_id=approval.id, by="dan", allow_scope="call")
    revoked = CliRunner().invoke(app, ["revoke", run.id, str(approval.id), *db])
    assert revoked.exit_code == 0, revoked.output
    assert "ask again" in revoked.output
    [sent] = [c for c in storage.command_history(store, run_id=run.id) if c.kind == "revoke"]
    assert sent.payload == {"approval_id": approval.id}
    other = seed.make_approval(store, run)
    refused = subprocess.run(
        [sys.executable, "-m", "agent_core", "revoke", run.id, str(other.id), *db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "allowed nothing for the rest of run" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_an_empty_filter_says_what_it_filtered(store):
    from typer.testing import CliRunner

    from agent_core.cli.app import app

    seed.make_run(store, status="succeeded")
    shown = CliRunner().invoke(app, ["runs", "--status", "waiting", "--db", store.url]).output
    assert shown.strip() == "no waiting runs; `onloop runs` lists runs of every status"
