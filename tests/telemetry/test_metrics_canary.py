"""The secret canary for metrics and logs: an API key in the worker's environment, a variable the
policy names in [sandbox] secret_env and text matching its secret_patterns (docs/policy.md) reach
a real worker's runs through a person's approval and a run's model name; none of them appears in
any log line, in the scraped metrics or in what the OTLP receiver was sent."""

from __future__ import annotations

import socket
import urllib.request

import storage
from agent_core.oversight.decisions import approve
from agent_core.oversight.policy import Policy
from tests.support.run_helpers import new_run, wait_for
from tests.support.telemetry_helpers import OtlpReceiver, WorkerProcess

KEY = "sk-canary0123456789abcdefghijklmnopqrst"
CONFIGURED = "tenant-canary-7c1e9d24b58a"
PATTERNED = "corp-" + "5e" * 16
SECRETS = (KEY, CONFIGURED, PATTERNED)
SUMMARY = "Summarise the files in the workspace into report.md"
POLICY_TOML = """
[sandbox]
secret_env = ["CANARY_TOKEN"]
secret_patterns = ["corp-[0-9a-f]{32}"]
"""


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ended(store: storage.Store, run_id: str) -> bool:
    return storage.get_run(store, run_id=run_id).status in ("succeeded", "failed", "unmet")


def test_no_secret_in_any_log_line_metric_or_otlp_export(tmp_path):
    (tmp_path / "onloop.toml").write_text(POLICY_TOML)
    policy = Policy.model_validate(
        {"sandbox": {"secret_env": ["CANARY_TOKEN"], "secret_patterns": ["corp-[0-9a-f]{32}"]}}
    )
    receiver = OtlpReceiver()
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    supervised = new_run(store, SUMMARY, model="demo", policy=policy)
    # A real model's run whose model name is a secret; its server is a dead loopback port.
    named = new_run(store, "hello", model="openai", model_name=f"gpt-{CONFIGURED}", policy=policy)
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{_dead_port()}/v1",
        "CANARY_TOKEN": CONFIGURED,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
    }
    args = ("--metrics-port", "0", "--policy", str(tmp_path / "onloop.toml"), "--max-retries", "0")
    worker = WorkerProcess(url, tmp_path, *args, env=env)
    try:
        pending = wait_for(
            lambda: storage.pending_approvals(store, run_id=supervised.id), 90, "ask"
        )
        words = " ".join(SECRETS)
        approve(store, approval_id=pending[0].id, by=f"ops {words}", note=f"ok {words}")
        wait_for(lambda: _ended(store, supervised.id) and _ended(store, named.id), 120, "both")
        wait_for(lambda: receiver.latest("onloop_runs_driven"), 90, "an OTLP export")
        with urllib.request.urlopen(worker.endpoint(), timeout=10) as response:
            metrics_text = response.read().decode()
    finally:
        assert worker.stop() == 0
        receiver.close()
    log_text = worker.err.read_text() + worker.out.read_text()
    exported = b"".join(request.SerializeToString() for _, _, request in receiver.requests)
    for secret in SECRETS:
        assert secret not in log_text, secret
        assert secret not in metrics_text, secret
        assert secret.encode() not in exported, secret
    # The canaries did reach the log path (and were redacted there), so the test can fail.
    decided = [line for line in worker.lines() if line.get("event_kind") == "approval_decided"]
    assert len(decided) == 1 and "[redacted" in decided[0]["message"]
    started = [line for line in worker.lines() if line.get("run_id") == named.id]
    named_in = ("model_name=gpt-[redacted", 'model_name="gpt-[redacted')  # quoted: not one word
    assert any(any(n in line["message"] for n in named_in) for line in started)
