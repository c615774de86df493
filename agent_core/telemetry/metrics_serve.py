"""Where the metrics go: a Prometheus endpoint (`--metrics-port`) and, when an OTLP endpoint is
set in the environment, an OTel MeterProvider exporting over OTLP/HTTP.

One process (`onloop worker`, `onloop up`): it counts, serves and reads the store's gauges.
`--processes N`: prometheus_client's multiprocess mode. The supervisor makes a private folder
(mkdtemp: owner-only), gives it to its children as PROMETHEUS_MULTIPROC_DIR, and serves the one
endpoint: every child's counters summed (MultiProcessCollector) and the store's gauges read once.
The children count and serve nothing; the folder goes when the supervisor stops. Through OTel,
each child exports its own counters (its own service.instance.id: the backend sums them) and
the supervisor alone exports the store's gauges.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

import storage

from . import metrics
from .metrics_store import StoreCollector, StoreGauges, observe_store

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own name for it
CHILD_ENV = "ONLOOP_METRICS_CHILD"  # set in a child of --processes N: count, serve nothing
SHUTDOWN_S = 5.0  # a dead collector holds a stopping worker this long at most


class MetricsError(ValueError):
    """A --metrics-port that cannot be served (taken, or not a port)."""


def otlp_configured(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


@dataclass
class MetricsSession:
    """What this process started for metrics; `close` stops it (bounded, never raising)."""

    endpoint: str | None = None  # the URL a scrape reads, when one is served
    child_env: dict[str, str] = field(default_factory=dict)  # for --processes N's children
    _server: Any = None
    _provider: Any = None
    _folder: str | None = None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._provider is not None:  # the last export, given SHUTDOWN_S at most
            stopper = threading.Thread(target=self._provider.shutdown, daemon=True)
            stopper.start()
            stopper.join(SHUTDOWN_S)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def start_for_worker(store: storage.Store, host: str, port: int | None) -> MetricsSession:
    """A worker process: counts when an endpoint, OTLP or a supervisor asks for it; serves and
    reads the store's gauges unless it is a child of --processes N (its supervisor does)."""
    child = os.environ.pop(CHILD_ENV, None) is not None
    session = MetricsSession()
    meter = None
    if otlp_configured():
        session._provider = _provider()
        meter = session._provider.get_meter("onloop")
    if not (child or port is not None or meter is not None):
        return session
    metrics.enable(meter)
    if child:
        return session
    gauges = StoreGauges(store)
    if meter is not None:
        observe_store(meter, gauges)
    if port is not None:
        from prometheus_client import REGISTRY

        REGISTRY.register(StoreCollector(gauges))
        session.endpoint = _serve(session, host, port, REGISTRY)
    return session


def start_for_pool(store: storage.Store, host: str, port: int | None) -> MetricsSession:
    """A supervisor of --processes N: the children's folder, the summed endpoint, the store's
    gauges (one read per scrape, not one per child)."""
    session = MetricsSession()
    gauges = StoreGauges(store)
    if otlp_configured():
        session._provider = _provider()
        observe_store(session._provider.get_meter("onloop"), gauges)
    if port is None:
        if session._provider is not None:  # the children export their counters themselves
            session.child_env = {CHILD_ENV: "1"}
        return session
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    session._folder = tempfile.mkdtemp(prefix="onloop-metrics-")  # mode 0700
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=session._folder)
    registry.register(StoreCollector(gauges))
    session.child_env = {MULTIPROC_ENV: session._folder, CHILD_ENV: "1"}
    try:
        session.endpoint = _serve(session, host, port, registry)
    except MetricsError:
        session.close()
        raise
    return session


def _serve(session: MetricsSession, host: str, port: int, registry: Any) -> str:
    from prometheus_client import start_http_server

    if not 0 <= port <= 65535:
        raise MetricsError(f"--metrics-port must be a port number (0-65535), not {port}")
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        # Only a held port is fixed by another port; a name that resolves to nothing, or an
        # address of another machine, by another host.
        held = error.errno in (errno.EADDRINUSE, errno.EACCES)
        fix = (
            "pick a free port with --metrics-port, or stop what holds it"
            if held
            else "pass --metrics-host an address of this machine, e.g. 127.0.0.1"
        )
        raise MetricsError(
            f"cannot serve metrics on {host}:{port} ({error.strerror or error}); {fix}"
        ) from None
    session._server = server
    bound = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{bound}/metrics"


def _provider() -> Any:
    """An OTel MeterProvider exporting over OTLP/HTTP as the OTEL_* environment says (endpoint,
    headers, timeout, OTEL_METRIC_EXPORT_INTERVAL); export runs on its own thread."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or "onloop",
            "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
        }
    )
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    return MeterProvider(resource=resource, metric_readers=[reader])
