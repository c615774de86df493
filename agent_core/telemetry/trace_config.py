"""Whether this process exports traces, read the standard OpenTelemetry way: its environment.

Traces are off unless an OTLP endpoint is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces added). The exporter itself reads the rest of the
standard variables (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE, ...), the
TracerProvider OTEL_TRACES_SAMPLER and its argument, the batch processor OTEL_BSP_*, and the
resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES: see docs/observability.md.
Nothing here imports OpenTelemetry: a process without an endpoint never loads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger("onloop.telemetry")

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
SERVICE_NAME = "onloop"  # when OTEL_SERVICE_NAME does not name one
HTTP_PROTOCOL = "http/protobuf"
TRACE_SETTINGS = (  # what a process's traces depend on: a change makes a new exporter
    ENDPOINT,
    TRACES_ENDPOINT,
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)


@dataclass(frozen=True)
class TraceConfig:
    """Traces are on: where they go (for messages), whether content goes with them, and the
    settings the exporter was built from (the cache key of the process's exporter)."""

    endpoint: str
    capture_content: bool
    settings: tuple[tuple[str, str], ...]


def trace_config(environ: Mapping[str, str] | None = None) -> TraceConfig | None:
    """The process's trace settings, or None when traces are off (or cannot be sent: said once)."""
    env = os.environ if environ is None else environ
    if _true(env.get("OTEL_SDK_DISABLED", "")):
        return None
    exporter = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporter == "none":
        return None
    endpoint = env.get(TRACES_ENDPOINT, "").strip() or env.get(ENDPOINT, "").strip()
    if not endpoint:
        return None
    problem = _unsupported(env, exporter)
    if problem is not None:
        _say_once(problem)
        return None
    settings = tuple((name, env[name]) for name in TRACE_SETTINGS if name in env)
    return TraceConfig(endpoint, _true(env.get(CAPTURE_CONTENT, "")), settings)


def _unsupported(env: Mapping[str, str], exporter: str) -> str | None:
    if exporter != "otlp":
        return (
            f"OTEL_TRACES_EXPORTER={exporter} is not one onloop can send: it exports OTLP over "
            "HTTP only; unset it or set it to otlp (or none for no traces). Traces are off."
        )
    for name in PROTOCOLS:
        protocol = env.get(name, "").strip().lower()
        if protocol and protocol != HTTP_PROTOCOL:
            return (
                f"{name}={protocol} is not supported: onloop exports OTLP over HTTP; set it to "
                f"{HTTP_PROTOCOL} and point the endpoint at the collector's HTTP port (4318, "
                "or Phoenix's 6006). Traces are off."
            )
    return None


_said: set[str] = set()


def _say_once(problem: str) -> None:
    if problem not in _said:
        _said.add(problem)
        log.warning("%s", problem)


def _true(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes", "on")
