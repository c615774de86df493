"""A run session's trace: what the run's port and its worker call where spans start and end.

Off (NO_TRACE, every hook a no-op that loads nothing) unless the process is configured to send
traces (trace_config). On, a session is an `invoke_agent` span, parented to the run's first
session (its W3C traceparent is recorded in that session's run_started event), so every session
of a run, on whichever worker, is one trace. The spans are made from the events the port records,
redacted as the store has them: the trace says what the record says, never more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from agent_core.oversight.redact import Redactor
from agent_core.telemetry.run_trace import NO_TRACE, RunTrace
from agent_core.telemetry.trace_config import trace_config

log = logging.getLogger("onloop.telemetry")
TRACE_FIELD = "trace"  # run_started's field holding the session's traceparent


def session_trace(
    run: Any, events: Iterable[Any], model: Any, redactor: Redactor, *, resumed: bool
) -> RunTrace:
    """The trace of the session starting now for `run` (a storage Run), whose recorded `events`
    may name the trace its first session began; NO_TRACE when traces are off."""
    config = trace_config()
    if config is None:
        return NO_TRACE
    try:  # OpenTelemetry is loaded only by a process that sends traces
        from agent_core.telemetry.trace_export import tracer_for
        from agent_core.telemetry.trace_spans import SessionSpans

        return SessionSpans(
            tracer_for(config),
            run,
            model,
            redactor,
            parent=first_traceparent(events),
            resumed=resumed,
            capture_content=config.capture_content,
        )
    except Exception:  # never the run's problem
        log.exception("run %s: could not start its trace; it runs untraced", run.id)
        return NO_TRACE


def first_traceparent(events: Iterable[Any]) -> str | None:
    """The traceparent the run's first traced session recorded, if any."""
    for event in events:
        if event.kind == "run_started":
            parent = (event.payload or {}).get(TRACE_FIELD)
            if isinstance(parent, str) and parent:
                return parent
    return None
