"""One session's spans, made from the events its port records: `invoke_agent` for the session,
`chat` per model call, `execute_tool` per tool call, `onloop.approval` per person's decision, and
events for drift trips, guidance, halts and pauses. A hook never raises: a bug here is logged
and the run goes on untraced."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agent_core.oversight.redact import Redactor
from agent_core.telemetry import trace_content as content
from agent_core.telemetry import trace_names as n
from agent_core.telemetry.run_trace import RunTrace

log = logging.getLogger("onloop.telemetry")
PROPAGATOR = TraceContextTextMapPropagator()
BY_A_PERSON = re.compile(r"(?:halted|paused) by (.+?)(?: while .*)?")  # the loop's own words
Payload = Mapping[str, Any]


def _never_raises(hook: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(hook)
    def safe(self: SessionSpans, *args: Any) -> None:
        try:
            with self._lock:
                hook(self, *args)
        except Exception:
            log.exception("run %s: tracing failed (the run goes on)", self.run_id)

    return safe


class SessionSpans(RunTrace):
    def __init__(
        self,
        tracer: Tracer,
        run: Any,
        model: Any,
        redactor: Redactor,
        *,
        parent: str | None,
        resumed: bool,
        capture_content: bool,
    ) -> None:
        self.tracer, self.run_id, self.redact = tracer, str(run.id), redactor
        self.content = capture_content
        self._lock = threading.Lock()
        self._model = _model_attributes(model, run)
        parent_context = PROPAGATOR.extract({"traceparent": parent}) if parent else None
        self.root = tracer.start_span(
            f"{n.INVOKE_AGENT} {n.AGENT}",
            context=parent_context,
            kind=SpanKind.INTERNAL,
            attributes={
                n.OPERATION: n.INVOKE_AGENT,
                n.AGENT_NAME: n.AGENT,
                n.AGENT_ID: self.run_id,
                n.CONVERSATION: self.run_id,
                n.RUN_ID: self.run_id,
                n.RUN_RESUMED: resumed,
                n.RUN_AUTONOMY: str(run.autonomy),
                n.WORKER_ID: str(run.worker_id or ""),
                **self._model,
            },
        )
        if self.content:
            self.root.set_attribute(n.INPUT_MESSAGES, content.user_messages(redactor(run.goal)))
        self._context: Context = set_span_in_context(self.root)
        carrier: dict[str, str] = {}
        PROPAGATOR.inject(carrier, context=self._context)
        self.traceparent = carrier.get("traceparent")
        self._chat: Span | None = None
        self._tools: dict[str, Span] = {}
        self._asked: dict[int, tuple[int, str | None]] = {}  # approval id -> (ns, call id)
        self._done = False

    # -- the hooks --------------------------------------------------------------------------
    @_never_raises
    def saw(self, kind: str, payload: Payload) -> None:
        handle = self._HANDLERS.get(kind)
        if handle is not None and not self._done:
            handle(self, payload)

    @_never_raises
    def ended(self, status: str, reason: str | None) -> None:
        self._end(status, self.redact(reason) if reason else None)

    @_never_raises
    def close(self) -> None:
        if not self._done:
            self._end("interrupted", "the session ended before its outcome was recorded")

    # -- model calls --------------------------------------------------------------------------
    def _model_request(self, payload: Payload) -> None:
        self._end_chat(None)
        model = self._model.get(n.REQUEST_MODEL, "")
        attributes = {n.OPERATION: n.CHAT, **self._model, n.STEP: payload.get("step") or 0}
        if payload.get("purpose"):
            attributes[n.PURPOSE] = str(payload["purpose"])
        self._chat = self._child(f"{n.CHAT} {model}".strip(), SpanKind.CLIENT, attributes)

    def _model_call(self, payload: Payload) -> None:
        chat = self._chat
        if chat is None:
            return
        chat.set_attributes(_usage(payload))
        if payload.get("model_name"):
            chat.set_attribute(n.RESPONSE_MODEL, str(payload["model_name"]))
        if payload.get("finish_reason"):
            chat.set_attribute(n.FINISH_REASONS, [str(payload["finish_reason"])])
        if self.content:
            chat.set_attribute(n.OUTPUT_MESSAGES, content.assistant_messages(payload))
        self._end_chat(None)

    def _judge(self, payload: Payload) -> None:
        if self._chat is not None:
            self._chat.set_attributes(_usage(payload))
        self._end_chat(None)

    def _error(self, payload: Payload) -> None:
        where = str(payload.get("where") or "run")
        message = str(payload.get("message") or "")
        if where in ("model", "judge") and self._chat is not None:
            self._end_chat(message)
            return
        attributes = {n.ERROR_TYPE: where}
        if self.content:
            attributes[n.MESSAGE] = content.cut(message)
        self.root.add_event("onloop.error", attributes)

    def _end_chat(self, error: str | None) -> None:
        chat, self._chat = self._chat, None
        if chat is not None:
            if error is not None:
                chat.set_attribute(n.ERROR_TYPE, "model_error")
                chat.set_status(Status(StatusCode.ERROR, error if self.content else None))
            chat.end()

    # -- tool calls and the people who decide them ------------------------------------------
    def _tool_call(self, payload: Payload) -> None:
        call_id, tool = str(payload.get("tool_call_id") or ""), str(payload.get("tool") or "")
        attributes: dict[str, Any] = {
            n.OPERATION: n.EXECUTE_TOOL,
            n.TOOL_NAME: tool,
            n.TOOL_CALL_ID: call_id,
            n.TOOL_TYPE: n.FUNCTION,
        }
        for name, field in ((n.VERDICT, "verdict"), (n.RISK, "risk"), (n.RULE, "rule")):
            if payload.get(field):
                attributes[name] = str(payload[field])
        if payload.get("call_class"):
            attributes[n.CALL_CLASS] = str(payload["call_class"])
        if self.content:
            attributes[n.TOOL_ARGUMENTS] = content.as_text(payload.get("arguments"))
            if payload.get("reason"):
                attributes[n.TOOL_REASON] = content.cut(str(payload["reason"]))
        old = self._tools.pop(call_id, None)
        if old is not None:
            old.end()
        self._tools[call_id] = self._child(
            f"{n.EXECUTE_TOOL} {tool}", SpanKind.INTERNAL, attributes
        )

    def _approval_requested(self, payload: Payload) -> None:
        approval_id, call_id = payload.get("approval_id"), payload.get("tool_call_id")
        if not isinstance(approval_id, int):
            return
        self._asked[approval_id] = (time.time_ns(), str(call_id) if call_id else None)
        span = self._tools.get(str(call_id)) or self.root
        span.add_event(n.APPROVAL_REQUESTED, {n.APPROVAL_ID: approval_id})

    def _approval_decided(self, payload: Payload) -> None:
        """A span from the request to the decision (the request's time, or the recorded wait
        when it was asked in an earlier session), under the call's span."""
        approval_id = payload.get("approval_id")
        waited = float(payload.get("waited_s") or 0.0)
        asked_at, call_id = self._asked.pop(approval_id, (None, None))  # type: ignore[arg-type]
        call_id = call_id or str(payload.get("tool_call_id") or "")
        start = asked_at or time.time_ns() - int(waited * 1e9)
        attributes: dict[str, Any] = {
            n.DECISION: str(payload.get("decision") or ""),
            n.DECIDED_BY: str(payload.get("decided_by") or ""),
            n.EDITED: bool(payload.get("edited")),
            n.WAIT_S: waited,
            n.TOOL_CALL_ID: call_id,
        }
        if isinstance(approval_id, int):
            attributes[n.APPROVAL_ID] = approval_id
        if payload.get("allow_scope"):
            attributes[n.SCOPE] = str(payload["allow_scope"])
        if self.content and payload.get("note"):
            attributes[n.MESSAGE] = content.cut(str(payload["note"]))
        under = self._tools.get(call_id) or self.root
        span = self.tracer.start_span(
            n.APPROVAL, set_span_in_context(under), SpanKind.INTERNAL, attributes, start_time=start
        )
        span.end()

    def _tool_result(self, payload: Payload) -> None:
        span = self._tools.pop(str(payload.get("tool_call_id") or ""), None)
        if span is None:
            return
        outcome = str(payload.get("outcome") or ("ok" if payload.get("ok") else "error"))
        span.set_attribute(n.TOOL_OUTCOME, outcome)
        if not payload.get("ok"):
            span.set_attribute(n.ERROR_TYPE, outcome)
            if outcome == "error":
                span.set_status(Status(StatusCode.ERROR))
        if self.content:
            span.set_attribute(n.TOOL_RESULT, content.cut(str(payload.get("output") or "")))
        span.end()

    # -- the human side of the session --------------------------------------------------------
    def _drift(self, payload: Payload) -> None:
        attributes = {
            n.DRIFT_MONITOR: str(payload.get("monitor") or ""),
            n.DRIFT_ACTION: str(payload.get("action") or ""),
        }
        if self.content:
            attributes[n.DRIFT_DETAIL] = content.cut(str(payload.get("detail") or ""))
        self.root.add_event(n.DRIFT, attributes)

    def _guidance(self, payload: Payload) -> None:
        attributes = {n.BY: str(payload.get("by") or "")}
        if self.content:
            attributes[n.MESSAGE] = content.cut(str(payload.get("message") or ""))
        self.root.add_event(n.GUIDANCE, attributes)

    def _final_answer(self, payload: Payload) -> None:
        if self.content:
            text = str(payload.get("text") or "")
            self.root.set_attribute(n.OUTPUT_MESSAGES, content.final_messages(text))

    def _end(self, status: str, reason: str | None) -> None:
        self._done = True
        self._end_chat(None)
        for span in self._tools.values():  # a call the session's end cut short
            span.set_attribute(n.TOOL_OUTCOME, "halted" if status == "halted" else "unfinished")
            span.end()
        self._tools.clear()
        self.root.set_attribute(n.RUN_STATUS, status)
        shown = content.cut(reason) if reason and self.content else None  # it may quote a call
        if shown:
            self.root.set_attribute(n.RUN_REASON, shown)
        if status in ("halted", "paused"):
            person = BY_A_PERSON.fullmatch(reason or "")
            by = {n.BY: person.group(1)} if person else {}
            self.root.add_event(n.HALT if status == "halted" else n.PAUSE, by)
        if status == "failed":
            self.root.set_attribute(n.ERROR_TYPE, "failed")
            self.root.set_status(Status(StatusCode.ERROR, shown))
        self.root.end()

    def _child(self, name: str, kind: SpanKind, attributes: dict[str, Any]) -> Span:
        return self.tracer.start_span(name, self._context, kind, attributes)

    _HANDLERS: dict[str, Callable[[SessionSpans, Payload], None]] = {
        "model_request": _model_request,
        "model_call": _model_call,
        "judge": _judge,
        "error": _error,
        "tool_call": _tool_call,
        "approval_requested": _approval_requested,
        "approval_decided": _approval_decided,
        "tool_result": _tool_result,
        "drift": _drift,
        "guidance": _guidance,
        "final_answer": _final_answer,
    }


def _usage(payload: Payload) -> dict[str, Any]:
    usage: dict[str, Any] = {
        n.INPUT_TOKENS: int(payload.get("tokens_in") or 0),
        n.OUTPUT_TOKENS: int(payload.get("tokens_out") or 0),
    }
    if payload.get("cost_usd") is not None:
        usage[n.COST] = float(payload["cost_usd"])
    return usage


def _model_attributes(model: Any, run: Any) -> dict[str, Any]:
    """Who serves the run's model calls: gen_ai.provider.name, gen_ai.request.model, and the
    server's address and port when the model is reached over the network."""
    attributes: dict[str, Any] = {
        n.PROVIDER: str(getattr(model, "provider", run.model)),
        n.REQUEST_MODEL: str(getattr(model, "model_name", run.model_name)),
    }
    base_url = getattr(model, "base_url", None)
    if isinstance(base_url, str) and base_url:
        address = urlsplit(base_url)
        if address.hostname:
            attributes[n.SERVER_ADDRESS] = address.hostname
            attributes[n.SERVER_PORT] = address.port or (443 if address.scheme == "https" else 80)
    return attributes
