"""The store's gauges, read when they are asked for: one query per Prometheus scrape (a custom
Collector) or per OTel collection (observable gauges), never per step."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import storage
from storage.gauges import Gauges, read_gauges
from storage.vocabulary import RunStatus

from .metrics import PREFIX

log = logging.getLogger("onloop.metrics")
FRESH_S = 1.0  # one OTel collection asks five gauges: they share one read


class StoreGauges:
    """The latest read of the store's gauges, shared by the scrape and the OTel callbacks."""

    def __init__(self, store: storage.Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._last: tuple[float, Gauges] | None = None

    def read(self, max_age: float = 0.0) -> Gauges | None:
        """Now's gauges (or a read under `max_age` seconds old); None when the store cannot be
        read (the scrape then shows no store gauges rather than failing)."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < max_age:
                return self._last[1]
            try:
                gauges = read_gauges(self.store)
            except Exception as error:  # an outage: the worker says so elsewhere
                log.warning("metrics: could not read the store's gauges (%s)", type(error).__name__)
                return None
            self._last = (time.monotonic(), gauges)
            return gauges


class StoreCollector:
    """prometheus_client Collector: the store's gauges at scrape time."""

    def __init__(self, gauges: StoreGauges) -> None:
        self.gauges = gauges

    def describe(self) -> list:
        return []  # no read at registration: the families are only known when collected

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        gauges = self.gauges.read()
        if gauges is None:
            return
        runs = GaugeMetricFamily(PREFIX + "runs", "Runs in the store by status", labels=["status"])
        for status in RunStatus:  # every status, 0 included, so a query needs no absent()
            runs.add_metric([status.value], gauges.runs.get(status.value, 0))
        yield runs
        for name, text, value in _scalars(gauges):
            yield GaugeMetricFamily(PREFIX + name, text, value=value)


def _scalars(gauges: Gauges) -> list[tuple[str, str, float]]:
    return [
        ("queue_depth", "Runs queued for a worker", gauges.queued),
        ("queue_oldest_age_seconds", "Age of the run queued longest", gauges.oldest_queued_s),
        ("pending_approvals", "Approvals waiting for a person", gauges.pending_approvals),
        (
            "pending_approval_oldest_age_seconds",
            "Age of the approval waiting longest",
            gauges.oldest_approval_s,
        ),
    ]


def observe_store(meter: Any, gauges: StoreGauges) -> None:
    """The same gauges as OTel observable gauges on `meter`."""
    from opentelemetry.metrics import Observation

    def runs(_options: Any) -> list[Observation]:
        read = gauges.read(FRESH_S)
        if read is None:
            return []
        return [Observation(read.runs.get(s.value, 0), {"status": s.value}) for s in RunStatus]

    meter.create_observable_gauge(PREFIX + "runs", callbacks=[runs], unit="{run}")
    for index, (name, _text, _value) in enumerate(_scalars(Gauges())):

        def scalar(_options: Any, index: int = index) -> list[Observation]:
            read = gauges.read(FRESH_S)
            return [] if read is None else [Observation(_scalars(read)[index][2])]

        meter.create_observable_gauge(PREFIX + name, callbacks=[scalar])
