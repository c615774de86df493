"""The worker's metrics: what its runs did, counted as their events are recorded.

Off (every hook returns at once) until `enable` is called by a worker started with
`--metrics-port` or with an OTLP endpoint in its environment. Each instrument moves in
Prometheus (prometheus_client's default registry, or its multiprocess files under
`--processes N`) and, when an OTel meter is given, in OpenTelemetry too. The store's own gauges
(runs by status, queue, pending approvals) are read at scrape time: metrics_store.py.

Label values are bounded: a verdict or call class outside onloop's vocabulary reads "other", a
model name or monitor is cut to a safe spelling and, past MAX_LABEL_VALUES distinct values,
reads "other". No run id, goal or free text is ever a label.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from agent_core.oversight.redact import redactor_for
from storage.transient import RETRY_LISTENERS
from storage.vocabulary import CallClass, EventKind, Verdict

from .logs import event_line

MAX_LABEL_VALUES = 50  # distinct values per label beyond which new ones read "other"
_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+-]")
# Seconds: a model call takes ~0.1-60 s; a person decides in seconds to days.
MODEL_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
DECISION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)
PREFIX = "onloop_"


@dataclass
class _Labels:
    """The distinct values one label has taken, capped."""

    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bounded(self, value: object) -> str:
        text = _UNSAFE.sub("_", str(value or "none"))[:64] or "none"
        with self.lock:
            if text in self.seen:
                return text
            if len(self.seen) >= MAX_LABEL_VALUES:
                return "other"
            if redactor_for()(text) != text:  # a secret of the environment's: never a label
                return "redacted"
            self.seen.add(text)
            return text


def _one_of(value: object, allowed: frozenset[str]) -> str:
    if value is None or value == "":
        return "none"
    text = str(value)
    return text if text in allowed else "other"


VERDICTS = frozenset(v.value for v in Verdict)
CLASSES = frozenset(c.value for c in CallClass)
DECISIONS = frozenset({"approved", "rejected", "expired", "cancelled"})
DRIFT_ACTIONS = frozenset({"pause", "halt", "fail"})


class Instruments:
    """Every counter and histogram, in Prometheus and (given a meter) in OpenTelemetry."""

    def __init__(self, meter: Any = None, registry: Any = None) -> None:
        import prometheus_client

        registry = prometheus_client.REGISTRY if registry is None else registry
        Counter = partial(prometheus_client.Counter, registry=registry)
        Histogram = partial(prometheus_client.Histogram, registry=registry)
        self.models, self.monitors, self.workers = _Labels(), _Labels(), _Labels()
        self.runs_driven = Counter(
            PREFIX + "runs_driven", "Run sessions a worker started driving", ["worker"]
        )
        self.decision_seconds = Histogram(
            PREFIX + "approval_decision_seconds",
            "Time from an approval asked to a person's decision (as the run saw it)",
            ["decision"],
            buckets=DECISION_BUCKETS,
        )
        self.model_seconds = Histogram(
            PREFIX + "model_call_seconds",
            "Latency of a model call, request to whole reply",
            ["model"],
            buckets=MODEL_BUCKETS,
        )
        self.tokens = Counter(
            PREFIX + "model_tokens", "Tokens of model calls", ["model", "direction"]
        )
        self.cost = Counter(PREFIX + "model_cost_usd", "Cost of model calls in USD", ["model"])
        self.tool_calls = Counter(
            PREFIX + "tool_calls",
            "Tool calls by policy verdict and call class",
            ["verdict", "class"],
        )
        self.drift = Counter(
            PREFIX + "drift_trips", "Drift monitors that tripped", ["monitor", "action"]
        )
        self.db_retries = Counter(
            PREFIX + "db_retries", "Waits before trying the database again (outages, busy)"
        )
        self.lost_leases = Counter(
            PREFIX + "lost_leases", "Run sessions that found their claim gone (lease lapsed)"
        )
        self.otel = _OtelInstruments(meter) if meter is not None else None


class _OtelInstruments:
    """The same instruments through an OTel meter (names without Prometheus' _total)."""

    def __init__(self, meter: Any) -> None:
        self.runs_driven = meter.create_counter(PREFIX + "runs_driven", unit="{run}")
        self.decision_seconds = meter.create_histogram(
            PREFIX + "approval_decision_seconds",
            unit="s",
            explicit_bucket_boundaries_advisory=list(DECISION_BUCKETS),
        )
        self.model_seconds = meter.create_histogram(
            PREFIX + "model_call_seconds",
            unit="s",
            explicit_bucket_boundaries_advisory=list(MODEL_BUCKETS),
        )
        self.tokens = meter.create_counter(PREFIX + "model_tokens", unit="{token}")
        self.cost = meter.create_counter(PREFIX + "model_cost_usd", unit="USD")
        self.tool_calls = meter.create_counter(PREFIX + "tool_calls", unit="{call}")
        self.drift = meter.create_counter(PREFIX + "drift_trips", unit="{trip}")
        self.db_retries = meter.create_counter(PREFIX + "db_retries", unit="{retry}")
        self.lost_leases = meter.create_counter(PREFIX + "lost_leases", unit="{lease}")


_on: Instruments | None = None
_failed: list[str] = []  # the first event whose metrics or log line failed, if one did
log = logging.getLogger("onloop.metrics")
_lock = threading.Lock()


def enable(meter: Any = None) -> Instruments:
    """Start counting (once per process); `meter`: also through this OTel meter."""
    global _on
    with _lock:
        if _on is None:
            _on = Instruments(meter)
            RETRY_LISTENERS.append(db_retry)
        return _on


def enabled() -> bool:
    return _on is not None


Pick = Callable[[Any], Any]  # the same instrument of Instruments and of _OtelInstruments


def _add(pick: Pick, amount: float, labels: Mapping[str, str] | None = None) -> None:
    on = _on
    if on is None or amount < 0:
        return
    metric = pick(on)
    (metric.labels(**labels) if labels else metric).inc(amount)
    if on.otel is not None:  # counts as integers (OTLP's as_int), dollars as they are
        counter = pick(on.otel)
        counter.add(amount if counter is on.otel.cost else int(amount), dict(labels or {}))


def _observe(pick: Pick, value: float, labels: Mapping[str, str]) -> None:
    on = _on
    if on is None or value < 0:
        return
    pick(on).labels(**labels).observe(value)
    if on.otel is not None:
        pick(on.otel).record(value, dict(labels))


def db_retry() -> None:
    _add(lambda i: i.db_retries, 1)


def lost_lease() -> None:
    _add(lambda i: i.lost_leases, 1)


def recorded(worker_id: str | None, kind: str, payload: Mapping[str, Any]) -> None:
    """A run's event was recorded (its payload as stored, redacted): move what it moves."""
    on = _on
    if on is None:
        return
    number = _number
    if kind == EventKind.RUN_STARTED:
        _add(lambda i: i.runs_driven, 1, {"worker": on.workers.bounded(worker_id or "here")})
    elif kind == EventKind.MODEL_CALL:
        model = on.models.bounded(payload.get("model_name"))
        latency = payload.get("latency_s")
        if latency is not None:
            _observe(lambda i: i.model_seconds, number(latency), {"model": model})
        _add(
            lambda i: i.tokens,
            number(payload.get("tokens_in")),
            {"model": model, "direction": "input"},
        )
        _add(
            lambda i: i.tokens,
            number(payload.get("tokens_out")),
            {"model": model, "direction": "output"},
        )
        _add(lambda i: i.cost, number(payload.get("cost_usd")), {"model": model})
    elif kind == EventKind.TOOL_CALL:
        labels = {
            "verdict": _one_of(payload.get("verdict"), VERDICTS),
            "class": _one_of(payload.get("call_class"), CLASSES),
        }
        _add(lambda i: i.tool_calls, 1, labels)
    elif kind == EventKind.APPROVAL_DECIDED:
        waited = payload.get("waited_s")
        if waited is not None:
            decision = _one_of(payload.get("decision"), DECISIONS)
            _observe(lambda i: i.decision_seconds, number(waited), {"decision": decision})
    elif kind == EventKind.DRIFT:
        labels = {
            "monitor": on.monitors.bounded(payload.get("monitor")),
            "action": _one_of(payload.get("action"), DRIFT_ACTIONS),
        }
        _add(lambda i: i.drift, 1, labels)


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def event_recorded(run_id: str, worker_id: str | None, kind: str, payload: Any) -> None:
    """The hook where a run's event is recorded (run/port.py): metrics and its log line."""
    if not isinstance(payload, Mapping):
        return
    try:
        recorded(worker_id, kind, payload)
        event_line(run_id, kind, payload)
    except Exception:  # telemetry never changes a run's outcome: said once, then kept quiet
        if not _failed:
            _failed.append(kind)
            log.exception("metrics: recording a %s event failed; the run goes on", kind)
