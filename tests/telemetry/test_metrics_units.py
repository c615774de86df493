"""The metrics' parts in this process: instruments moved by recorded events, bounded labels, the
store's gauges read at scrape time, all read back through prometheus_client's text parser."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import storage
from agent_core.telemetry import metrics
from agent_core.telemetry.metrics_store import StoreCollector, StoreGauges
from storage.gauges import read_gauges
from storage.transient import Backoff
from tests.support.run_helpers import new_run


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def counted(monkeypatch):
    """Instruments in a registry of their own, switched on for this test only."""
    registry = CollectorRegistry()
    monkeypatch.setattr(metrics, "_on", metrics.Instruments(registry=registry))
    return registry


def test_events_move_their_instruments(counted):
    metrics.recorded("w-1", "run_started", {"model": "demo"})
    call = {"model_name": "gpt-x", "tokens_in": 120, "tokens_out": 30, "cost_usd": 0.25}
    metrics.recorded("w-1", "model_call", {**call, "latency_s": 1.5})
    metrics.recorded("w-1", "tool_call", {"verdict": "ask", "call_class": "write"})
    metrics.recorded("w-1", "approval_decided", {"decision": "approved", "waited_s": 42})
    metrics.recorded("w-1", "drift", {"monitor": "repetition", "action": "pause"})
    metrics.lost_lease()
    Backoff().wait()  # a wait before the database is tried again (no sleep: it only says how long)
    found = samples(counted)
    assert found[("onloop_runs_driven_total", (("worker", "w-1"),))] == 1
    assert found[("onloop_model_tokens_total", (("direction", "input"), ("model", "gpt-x")))] == 120
    assert found[("onloop_model_tokens_total", (("direction", "output"), ("model", "gpt-x")))] == 30
    assert found[("onloop_model_cost_usd_total", (("model", "gpt-x"),))] == 0.25
    assert found[("onloop_model_call_seconds_sum", (("model", "gpt-x"),))] == 1.5
    assert found[("onloop_model_call_seconds_bucket", (("le", "2.5"), ("model", "gpt-x")))] == 1
    assert found[("onloop_model_call_seconds_bucket", (("le", "1.0"), ("model", "gpt-x")))] == 0
    assert found[("onloop_tool_calls_total", (("class", "write"), ("verdict", "ask")))] == 1
    decided = ("onloop_approval_decision_seconds_count", (("decision", "approved"),))
    assert found[decided] == 1
    drift = (("action", "pause"), ("monitor", "repetition"))
    assert found[("onloop_drift_trips_total", drift)] == 1
    assert found[("onloop_lost_leases_total", ())] == 1


def test_label_values_stay_bounded(counted):
    # Words outside onloop's vocabulary read "other"; a model's name is cut to a safe spelling.
    metrics.recorded(None, "tool_call", {"verdict": "sure\nwhy not", "call_class": "<b>x</b>"})
    metrics.recorded(None, "model_call", {"model_name": 'a"b\n{c}' * 30, "tokens_in": 1})
    for n in range(metrics.MAX_LABEL_VALUES + 10):
        metrics.recorded(None, "model_call", {"model_name": f"model-{n}", "tokens_in": 1})
    found = samples(counted)
    assert found[("onloop_tool_calls_total", (("class", "other"), ("verdict", "other")))] == 1
    models = {
        dict(labels)["model"]
        for (name, labels) in found
        if name == "onloop_model_tokens_total" and dict(labels)["direction"] == "input"
    }
    assert len(models) == metrics.MAX_LABEL_VALUES + 1  # the cap, and "other"
    assert "other" in models
    assert all(len(m) <= 64 and '"' not in m and "\n" not in m for m in models)
    other = ("onloop_model_tokens_total", (("direction", "input"), ("model", "other")))
    assert found[other] == 11  # the hostile name took the first of the 50 places


def test_a_secret_of_the_environment_is_never_a_label(counted, monkeypatch):
    key = "sk-canary0123456789abcdefghijklmnop"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    metrics.recorded(None, "model_call", {"model_name": key, "tokens_in": 3})
    text = generate_latest(counted).decode()
    assert key not in text and 'model="redacted"' in text


def test_hooks_do_nothing_until_enabled(monkeypatch):
    monkeypatch.setattr(metrics, "_on", None)
    metrics.recorded("w", "run_started", {})  # no instrument exists: nothing to move, no error
    metrics.lost_lease()
    assert not metrics.enabled()


def test_store_gauges_are_read_at_scrape_time(store):
    queued = [new_run(store, f"goal {n}") for n in range(3)]
    storage.claim_next_run(store, worker_id="w", lease_seconds=30)
    waiting = storage.get_run(store, run_id=queued[0].id)
    storage.request_approval(
        store,
        run_id=waiting.id,
        tool_call_id="c1",
        tool="write_file",
        arguments={"path": "a"},
        args_hash="h",
        risk="medium",
    )
    gauges = read_gauges(store)
    assert gauges.runs == {"queued": 2, "waiting": 1}
    assert gauges.queued == 2 and gauges.pending_approvals == 1
    assert gauges.oldest_queued_s >= 0 and gauges.oldest_approval_s >= 0

    registry = CollectorRegistry()
    registry.register(StoreCollector(StoreGauges(store)))
    found = samples(registry)
    assert found[("onloop_runs", (("status", "queued"),))] == 2
    assert found[("onloop_runs", (("status", "waiting"),))] == 1
    assert found[("onloop_runs", (("status", "succeeded"),))] == 0  # every status is there
    assert found[("onloop_queue_depth", ())] == 2
    assert found[("onloop_pending_approvals", ())] == 1
    new_run(store, "one more")  # a later scrape reads the store again
    gauges_later = StoreGauges(store)
    assert gauges_later.read() is not None and gauges_later.read().queued == 3  # type: ignore[union-attr]


def test_an_empty_store_reads_zeros(store):
    gauges = read_gauges(store)
    assert gauges.runs == {} and gauges.queued == 0 and gauges.oldest_queued_s == 0.0


def test_a_failing_instrument_never_reaches_the_run(counted, monkeypatch, caplog):
    def broken(*_args):
        raise RuntimeError("exporter bug")

    monkeypatch.setattr(metrics, "recorded", broken)
    monkeypatch.setattr(metrics, "_failed", [])
    metrics.event_recorded("run1", "w", "model_call", {"tokens_in": 1})  # no exception
    metrics.event_recorded("run1", "w", "model_call", {"tokens_in": 1})
    said = [r for r in caplog.records if "recording a model_call event failed" in r.message]
    assert len(said) == 1  # once, not once per event
