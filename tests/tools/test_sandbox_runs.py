"""The sandbox and the redactor through real runs: secrets never stored, a halt or a worker's
death ends a running command, and where the sandbox cannot start every surface says so."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.policy import Policy, Rule, SandboxSettings
from agent_core.run.tool_runner import run_tool
from agent_core.tools import ToolError, Workspace, builtin_tools
from agent_core.tools.sandbox import sandbox_status
from tests.support.process_helpers import gone_eventually, running_with, unique_sleep
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

needs_sandbox = pytest.mark.usefixtures("sandbox_required")
SHELL_ALLOWED = Policy(rules=[Rule(tool="*", action="allow")])
ROOT = Path(__file__).resolve().parents[2]


def _shell_call(command: str, timeout_s: int = 60) -> dict:
    return {
        "tool_calls": [
            {"name": "run_shell", "arguments": {"command": command, "timeout_s": timeout_s}}
        ]
    }


def _everything_stored(store: storage.Store, run_id: str) -> str:
    run = storage.get_run(store, run_id=run_id)
    events = storage.events_after(store, run_id=run_id)
    rows = [run.model_dump(mode="json")] + [e.payload for e in events]
    return json.dumps(rows)


# -- secrets --------------------------------------------------------------------------------------
def test_secrets_are_redacted_from_every_stored_event(store, monkeypatch):
    key, custom, shaped = (secrets.token_hex(16) for _ in range(3))
    monkeypatch.setenv("OPENAI_API_KEY", f"sk-{key}")
    monkeypatch.setenv("ONLOOP_DATABASE_URL", f"postgresql://onloop:{custom}pw@db.internal/onloop")
    monkeypatch.setenv("MY_SERVICE_VALUE", custom)  # not secret-named: the policy names it
    policy = Policy(
        rules=SHELL_ALLOWED.rules,
        sandbox=SandboxSettings(
            secret_env=["MY_SERVICE_VALUE"], secret_patterns=["corp-[0-9a-f]{32}"]
        ),
    )
    run = new_run(store, "use the key", model="scripted", policy=policy, autonomy="autonomous")
    Workspace(Path(run.workspace)).root.mkdir(parents=True, exist_ok=True)
    Path(run.workspace, "config.txt").write_text(f"token = corp-{shaped}\nother = {custom}\n")
    model = ScriptedModel(
        [
            {"text": f"I see the key sk-{key}", **_shell_call(f"echo sk-{key} {custom}")},
            {"tool_calls": [{"name": "read_file", "arguments": {"path": "config.txt"}}]},
            f"The answer: sk-{key}, corp-{shaped}, {custom}",
        ]
    )
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "succeeded"
    stored = _everything_stored(store, run.id)
    for secret in (key, custom, shaped):
        assert secret not in stored
    assert "[redacted OPENAI_API_KEY]" in stored and "[redacted MY_SERVICE_VALUE]" in stored
    # What went back to the model was redacted too (its own text aside, it never saw them).
    tool_messages = [m["content"] for m in model.calls[-1] if m["role"] == "tool"]
    assert tool_messages and not any(s in m for m in tool_messages for s in (custom, shaped))


def test_the_openai_model_never_sees_or_stores_its_key(store, fake_openai, monkeypatch):
    key = f"sk-{secrets.token_hex(20)}"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    run = new_run(
        store,
        "read the env file",
        model="openai",
        policy=SHELL_ALLOWED,
        model_name="gpt-test",
        autonomy="autonomous",
    )
    Path(run.workspace).mkdir(parents=True, exist_ok=True)
    Path(run.workspace, "app.env").write_text(f"OPENAI_API_KEY={key}\n")
    fake_openai.script(
        [
            {"tool_calls": [{"name": "read_file", "arguments": {"path": "app.env"}}]},
            {"tool_calls": [{"name": "run_shell", "arguments": {"command": "env; printenv"}}]},
            f"your key is {key}",  # a hostile server echoing what it was sent
        ]
    )
    outcome = Driver(store, run).start().join()
    assert outcome.status == "succeeded"
    assert key not in _everything_stored(store, run.id)
    assert fake_openai.headers[0]["authorization"] == f"Bearer {key}"  # it was the real key
    assert all(key not in json.dumps(body["messages"]) for body in fake_openai.requests)


# -- halts and a worker's death -------------------------------------------------------------------
@needs_sandbox
def test_a_halt_ends_a_running_command_and_the_run(store):
    marker = unique_sleep()
    run = new_run(store, "wait", model="scripted", policy=SHELL_ALLOWED, autonomy="autonomous")
    model = ScriptedModel([_shell_call(f"sleep {marker}"), "never reached"])
    driver = Driver(store, run, model).start()
    wait_for(lambda: running_with(marker), what="the command to start")
    storage.send_command(store, run_id=run.id, kind="halt", created_by="test")
    assert driver.join().status == "halted"
    assert gone_eventually(marker)
    result = events_of(store, run.id, "tool_result")[-1].payload
    assert result["outcome"] == "halted" and "stopped by a halt" in result["output"]
    assert model.remaining == 1  # no model call after the halt
    assert storage.get_run(store, run_id=run.id).status == "halted"


WORKER_SCRIPT = """
import os
import sys
import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.worker.claim_loop import Worker

store = storage.open_store(sys.argv[1])
model = ScriptedModel([{"tool_calls": [{"name": "run_shell",
    "arguments": {"command": os.environ["SHELL_COMMAND"], "timeout_s": 60}}]}, "done"])
Worker(store, concurrency=1, poll_s=0.05, model_factory=lambda run: model).serve()
"""


# The command waits for a file the test creates only after the kill and the sandbox's end: a
# process that survived the worker would then land its effect.
WAIT_THEN_TOUCH = "until [ -e go ]; do sleep 0.05; done; touch landed # {m}"


@needs_sandbox
@pytest.mark.parametrize("command", [WAIT_THEN_TOUCH, f"({WAIT_THEN_TOUCH}\n) &\nwait"])
def test_a_killed_worker_s_command_never_lands_its_effect(tmp_path, command):
    marker = unique_sleep()
    db = tmp_path / "onloop.db"
    store = storage.open_store(f"sqlite:///{db}")
    run = new_run(
        store, "touch later", model="scripted", policy=SHELL_ALLOWED, autonomy="autonomous"
    )
    # The command goes in the environment: in argv the worker itself would carry the marker.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHELL_COMMAND": command.format(m=marker)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, f"sqlite:///{db}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The shell itself, inside the sandbox: killing the worker while bwrap is still setting
        # up is a narrower race this test does not cover (see the README's security model).
        wait_for(lambda: _shells_with(marker), timeout=90, what="the command to start")
        assert worker.pid not in running_with(marker)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        # The kernel kills the sandbox asynchronously after the worker's death: wait for that
        # (bounded), and only then offer the go-ahead a surviving process would act on.
        assert gone_eventually(marker)  # the sandbox and every process in it
        Path(run.workspace, "go").touch()
        assert not running_with(marker)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert not Path(run.workspace, "landed").exists()
    store.dispose()


def _shells_with(marker: str) -> list[int]:
    shells = []
    for pid in running_with(marker):
        try:
            program = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if not program.endswith(b"bwrap"):
            shells.append(pid)
    return shells


# -- where the sandbox cannot start ---------------------------------------------------------------
@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setenv("ONLOOP_BWRAP", "/nonexistent/bwrap")
    status = sandbox_status()
    assert not status.available and "apt-get install bubblewrap" in status.reason


def test_without_bwrap_the_shell_is_not_offered_and_the_run_says_why(store, no_bwrap):
    run = new_run(store, "What can you do here?", model="scripted", autonomy="autonomous")
    outcome = Driver(store, run, ScriptedModel(["nothing to do"])).start().join()
    assert outcome.status == "succeeded"
    started = events_of(store, run.id, "run_started")[0].payload
    assert "run_shell" not in started["tools"] and "read_file" in started["tools"]
    assert started["shell"]["mode"] == "unavailable"
    assert "apt-get install bubblewrap" in started["shell"]["note"]


def test_without_bwrap_a_direct_shell_call_refuses(tmp_path, no_bwrap):
    with pytest.raises(ToolError, match="apt-get install bubblewrap"):
        run_tool(builtin_tools()["run_shell"], {"command": "id"}, workspace=Workspace(tmp_path))


def test_the_unconfined_opt_in_works_and_is_announced(store, no_bwrap):
    policy = Policy(rules=SHELL_ALLOWED.rules, sandbox=SandboxSettings(unconfined_shell=True))
    run = new_run(store, "echo", model="scripted", policy=policy, autonomy="autonomous")
    model = ScriptedModel([_shell_call("echo unconfined-ok"), "done"])
    assert Driver(store, run, model).start().join().status == "succeeded"
    started = events_of(store, run.id, "run_started")[0].payload
    assert started["shell"]["mode"] == "unconfined" and "UNCONFINED" in started["shell"]["note"]
    assert "unconfined-ok" in events_of(store, run.id, "tool_result")[0].payload["output"]


def _onloop(tmp_path, *args, env):
    full = {**os.environ, "ONLOOP_DEMO_DELAY": "0", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def test_the_cli_says_why_the_shell_is_missing_and_announces_an_unconfined_one(tmp_path):
    missing = {"ONLOOP_BWRAP": "/nonexistent/bwrap"}
    done = _onloop(tmp_path, "run", "What is 2+2?", "--db", str(tmp_path / "a.db"), env=missing)
    assert done.returncode == 0, done.stderr
    assert "shell: not offered" in done.stdout and "apt-get install bubblewrap" in done.stdout
    (tmp_path / "open.toml").write_text("[sandbox]\nunconfined_shell = true\n")
    done = _onloop(
        tmp_path,
        "run",
        "What is 2+2?",
        "--policy",
        str(tmp_path / "open.toml"),
        "--db",
        str(tmp_path / "b.db"),
        env=missing,
    )
    assert done.returncode == 0, done.stderr
    assert "shell: UNCONFINED" in done.stdout


# -- a careless operator: "allow `git push *` for the rest of this run" -------------------------
@needs_sandbox
def test_allowing_the_shell_for_the_run_lifts_no_deny_and_no_unreadable_command(store):
    from agent_core.oversight.decisions import approve, reject
    from agent_core.oversight.policy_file import default_policy_text, parse_policy

    policy = parse_policy(default_policy_text(), source="the shipped default")
    run = new_run(store, "tidy up", model="scripted", policy=policy, autonomy="supervised")
    Path(run.workspace).mkdir(parents=True, exist_ok=True)
    Path(run.workspace, "notes").mkdir()
    Path(run.workspace, "notes", "a.md").write_text("keep me")
    Path(run.workspace, ".env").write_text("TOKEN=keep-me-secret")
    model = ScriptedModel(
        [
            _shell_call("pip install requests"),  # an install asks; the sandbox has no net
            _shell_call("rm -f -R notes"),  # a recursive delete, spelled to dodge a regex
            _shell_call("cat ./.env/."),  # a secret, spelled to dodge a glob
            _shell_call('X="rm -r notes"; eval "$X"'),  # what no rule can read
            "done",
        ]
    )
    driver = Driver(store, run, model).start()
    first = driver.pending()
    assert first.arguments["command"].startswith("pip install")
    approve(store, approval_id=first.id, by="careless", allow_scope="prefix")  # `pip install *`
    unreadable = wait_for(
        lambda: [a for a in storage.pending_approvals(store, run_id=run.id) if a.id != first.id],
        timeout=60,
        what="the unreadable command to be asked about",
    )[0]
    assert "eval" in unreadable.arguments["command"]
    reject(store, approval_id=unreadable.id, by="careless")
    driver.join(60)

    verdicts = [e.payload["verdict"] for e in events_of(store, run.id, "tool_call")]
    assert verdicts == ["ask", "deny", "deny", "ask"]
    assert Path(run.workspace, "notes", "a.md").read_text() == "keep me"
    assert "keep-me-secret" not in _everything_stored(store, run.id)
