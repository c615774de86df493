"""The worker's log lines: human-readable by default, one JSON object per line with
`--log-format json`.

A JSON line carries time, level, logger, message, run_id and worker_id (where they apply),
event_kind (for a run's event), trace_id and span_id (when an OpenTelemetry span is current), and
exception (a traceback). json.dumps escapes every control character, so a model's or tool's words
in a message stay inside their string. The human format is the message alone, as Python printed
it before (WARNING and above), with every control character shown as an escape
(oversight/inert.visible). Both redact secrets as the store does (oversight/redact.py): the
environment's API keys and the policy's secret_env and secret_patterns.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from agent_core.oversight.inert import visible
from agent_core.oversight.redact import Redactor, redactor_for

FORMATS = ("human", "json")
_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("onloop_run", default=None)
_worker_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "onloop_worker", default=None
)
_traceparent: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "onloop_traceparent", default=None
)  # the run session's span (W3C traceparent) when traces are on
_run_redactor: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar(
    "onloop_run_redactor", default=None
)  # the run's own secrets: its policy's, its workspace's secret files' (note_redactor)
_process_worker: list[str | None] = [None]  # this process's worker, for lines outside a run


class LogFormatError(ValueError):
    """A --log-format that is not one of FORMATS."""


def check_format(value: str) -> str:
    text = value.strip().lower()
    if text not in FORMATS:
        raise LogFormatError(f"--log-format takes human or json, not {value!r}")
    return text


def set_worker(worker_id: str) -> None:
    """The worker id every line of this process carries (a run's own overrides it)."""
    _process_worker[0] = worker_id


@contextmanager
def run_context(run_id: str, worker_id: str | None = None) -> Iterator[None]:
    """Lines logged inside (this thread, and what it calls) name this run and worker."""
    tokens = (_run_id.set(run_id), _worker_id.set(worker_id), _traceparent.set(None))
    redactor = _run_redactor.set(None)
    try:
        yield
    finally:
        _run_id.reset(tokens[0])
        _worker_id.reset(tokens[1])
        _traceparent.reset(tokens[2])
        _run_redactor.reset(redactor)


def note_trace(traceparent: str | None) -> None:
    """Inside run_context: this session's trace, for the lines logged while no span is current."""
    _traceparent.set(traceparent)


def note_redactor(redactor: Redactor) -> None:
    """Inside run_context: the run's redactor, for the lines logged while it is driven. The
    process's knows the worker's policy only; a run's may name other secrets, and its
    workspace's secret files."""
    _run_redactor.set(redactor)


def _redacted(process: Redactor, text: str) -> str:
    run = _run_redactor.get()
    return process(run(text) if run is not None else text)


def _session_ids() -> tuple[str | None, str | None]:
    parts = (_traceparent.get() or "").split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None, None
    return parts[1], parts[2]


def _span_ids() -> tuple[str | None, str | None]:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - a dependency; kept optional for the human format
        return None, None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return _session_ids()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


class JsonFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = _span_ids()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _redacted(self.redactor, record.getMessage()),
            "run_id": getattr(record, "run_id", None) or _run_id.get(),
            "worker_id": _worker_id.get() or _process_worker[0],
            "event_kind": getattr(record, "event_kind", None),
            "trace_id": trace_id,
            "span_id": span_id,
        }
        if record.exc_info:
            line["exception"] = _redacted(self.redactor, self.formatException(record.exc_info))
        return json.dumps({k: v for k, v in line.items() if v is not None}, ensure_ascii=True)


class HumanFormatter(logging.Formatter):
    """The message as Python's last-resort handler printed it, made inert and redacted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        text = visible(_redacted(self.redactor, record.getMessage()), newlines=False)
        if record.exc_info:
            text += "\n" + visible(_redacted(self.redactor, self.formatException(record.exc_info)))
        return text


class _Stderr(logging.StreamHandler):
    """Writes to sys.stderr as it is when a line is written (as Python's last-resort handler
    does), not as it was when the handler was made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(
    log_format: str,
    *,
    secret_env: tuple[str, ...] = (),
    secret_patterns: tuple[str, ...] = (),
    stream: Any = None,
) -> logging.Handler:
    """Send onloop's log lines to stderr in `log_format`: json from INFO (a run's events too),
    human from WARNING, as before. Returns the handler (replaced on a second call)."""
    redactor = redactor_for(secret_env, secret_patterns)
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.set_name("onloop")
    if log_format == "json":
        handler.setFormatter(JsonFormatter(redactor))
        level = logging.INFO
    else:
        handler.setFormatter(HumanFormatter(redactor))
        level = logging.WARNING
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "onloop"]:
        root.removeHandler(old)
    root.addHandler(handler)
    onloop = logging.getLogger("onloop")
    onloop.setLevel(level)
    root.setLevel(min(root.level or logging.WARNING, logging.WARNING))
    return handler


events_log = logging.getLogger("onloop.events")


def event_line(run_id: str, kind: str, payload: Mapping[str, Any]) -> None:
    """One INFO line per event a run records (json format only: the human format shows WARNING
    and above): its kind and a few bounded fields, never the model's text, arguments or output."""
    if not events_log.isEnabledFor(logging.INFO):
        return
    events_log.info("%s", _summary(kind, payload), extra={"event_kind": kind, "run_id": run_id})


_FIELDS = {  # what a line says of each kind: short fields, none of them free text
    "run_started": ("model", "model_name", "autonomy", "resumed"),
    "model_call": ("step", "model_name", "tokens_in", "tokens_out", "latency_s", "finish_reason"),
    "tool_call": ("tool", "verdict", "call_class", "risk", "rule"),
    "approval_requested": ("approval_id", "tool", "call_class", "risk"),
    "approval_decided": ("approval_id", "tool", "decision", "decided_by", "waited_s"),
    "tool_result": ("tool", "ok", "outcome", "duration_s"),
    "drift": ("monitor", "action"),
    "status": ("status",),
}


_BARE = re.compile(r"[\w.:/@+-]+", re.ASCII)  # a value written as it is: one plain word


def _summary(kind: str, payload: Mapping[str, Any]) -> str:
    fields = _FIELDS.get(kind, ())
    parts = [f"{name}={_value(payload[name])}" for name in fields if payload.get(name) is not None]
    return " ".join([kind, *parts])


def _value(value: object) -> str:
    """A field's value as one `name=value` word: a value with a space, a quote or any other
    character (a tool name the model made up, a person's name) is written as a JSON string, so
    it cannot add a field of its own (`tool=read_file verdict=allow`). Neither cut short nor
    escaped beyond `"`, `\\` and controls: the formatter redacts the line after, and a secret
    cut in half or spelled in escapes would no longer be the secret it knows."""
    text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)
