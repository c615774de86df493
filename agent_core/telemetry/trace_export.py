"""The process's tracer: OTLP over HTTP, batched on a background thread (a slow or dead collector
costs a run nothing: its spans wait in a bounded queue, and are dropped when it is full)."""

from __future__ import annotations

import atexit
import logging
import threading

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

from agent_core.telemetry.trace_config import SERVICE_NAME as OUR_NAME
from agent_core.telemetry.trace_config import TraceConfig

log = logging.getLogger("onloop.telemetry")
SCOPE = "onloop"  # the instrumentation scope named on every span
EXIT_FLUSH_S = 2.0  # at exit, at most this long for what is still queued, then it is dropped

_lock = threading.Lock()
_providers: dict[tuple, TracerProvider] = {}


def tracer_for(config: TraceConfig) -> Tracer:
    """The tracer for these settings: one provider (and exporter thread) per process and settings."""
    with _lock:
        provider = _providers.get(config.settings)
        if provider is None:
            provider = _providers[config.settings] = _provider()
            log.info("traces go to %s (OTLP/HTTP, batched)", config.endpoint)
    return provider.get_tracer(SCOPE)


def _provider() -> TracerProvider:
    """Service name, resource attributes and sampler from the standard environment variables; our
    own exit hook, so a dead collector holds the process's exit up for EXIT_FLUSH_S at most."""
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: OUR_NAME}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def flush(timeout_s: float = 30.0) -> bool:
    """Send what this process has queued, waiting `timeout_s` at most (the SDK's own flush
    ignores its timeout: a dead collector would hold the caller up for every retry); False when
    it did not all go in time. The sending goes on in the background either way."""
    with _lock:
        providers = list(_providers.values())
    sent: list[bool] = []

    def send() -> None:
        sent.extend(provider.force_flush() for provider in providers)

    sender = threading.Thread(target=send, name="onloop-trace-flush", daemon=True)
    try:
        sender.start()
    except RuntimeError:  # an interpreter too far into its exit to start one: nothing goes
        return False
    sender.join(timeout_s)
    return len(sent) == len(providers) and all(sent)


def shutdown(timeout_s: float = EXIT_FLUSH_S) -> None:
    """Stop sending: what is queued gets `timeout_s` to go, then this process's exporters are
    let go (their threads are daemons; nothing waits for a dead collector's every retry). The
    next session with traces on starts afresh."""
    flush(timeout_s)
    with _lock:
        providers = list(_providers.values())
        _providers.clear()
    for provider in providers:
        threading.Thread(target=provider.shutdown, name="onloop-trace-stop", daemon=True).start()


# At exit, what is queued gets EXIT_FLUSH_S; the exporters' daemon threads end with the process.
atexit.register(flush, EXIT_FLUSH_S)
