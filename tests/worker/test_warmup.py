"""A worker warms up before its first claim: the first run loads nothing the later ones don't.

Asserted on the modules a fresh process loads while driving its first run, never on time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
import storage
from agent_core.oversight.policy import Policy
from agent_core.oversight.policy_file import load_policy
from agent_core.models.settings import load_settings
from agent_core.worker.claim_loop import drive_run
from agent_core.worker.warmup import warm_up

policy = load_policy(None) if sys.argv[1] == "default" else Policy(tools=[sys.argv[1]])
warmed = warm_up(policy, load_settings())
store = storage.open_store(sys.argv[2])
run = storage.create_run(store, goal="What is 17.5% of 2,340, plus 118?")
claimed = storage.claim_run(store, run_id=run.id, worker_id="w-1-abcdef", lease_seconds=30)
before = set(sys.modules)
outcome = drive_run(store, claimed)
print(json.dumps({
    "status": outcome.status,
    "warmed": warmed >= 0,
    "loaded_by_the_run": sorted(set(sys.modules) - before),
    "openai": "openai" in sys.modules,
}))
"""


def probe(tmp_path, tools: str = "default", **env: str) -> dict:
    full = {**os.environ, "ONLOOP_DEMO_DELAY": "0", "ONLOOP_WORKSPACES": str(tmp_path / "ws")}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_DATABASE_URL", "ONLOOP_WARM_UP"):
        full.pop(name, None)
    full.update(env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, tools, f"sqlite:///{tmp_path / 'onloop.db'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_first_run_loads_no_module_after_the_warm_up(tmp_path):
    found = probe(tmp_path)
    assert found["status"] == "succeeded" and found["warmed"]
    ours = [m for m in found["loaded_by_the_run"] if m.split(".")[0] in ("agent_core", "storage")]
    assert ours == [] and not found["openai"]  # no key: the SDK is not loaded for nothing


OPENAI_PROBE = """
import json, sys
from agent_core.oversight.policy import Policy
from agent_core.models.providers import make_model
from agent_core.models.settings import load_settings
from agent_core.worker.warmup import warm_up

warm_up(Policy(), load_settings())
before = set(sys.modules)
make_model("openai", "gpt-4o-mini", load_settings(), Policy().model)  # what a run does first
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_with_a_model_server_configured_the_sdk_and_its_transport_load_before_the_claim(
    tmp_path,
):
    # Nothing connects: building a client opens no connection.
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ONLOOP_WARM_UP")}
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    done = subprocess.run(
        [sys.executable, "-c", OPENAI_PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_a_tool_module_that_does_not_load_does_not_stop_the_worker(caplog, monkeypatch):
    monkeypatch.delenv("ONLOOP_WARM_UP", raising=False)
    from agent_core.models.settings import load_settings
    from agent_core.oversight.policy import Policy
    from agent_core.worker.warmup import warm_up

    with caplog.at_level("WARNING", logger="onloop.worker"):
        assert warm_up(Policy(tools=["no_such_module_for_onloop"]), load_settings()) >= 0
    assert "the policy's tools did not load" in caplog.text  # the runs say why, in their record
