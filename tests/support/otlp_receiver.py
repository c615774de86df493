"""An OTLP/HTTP trace receiver on 127.0.0.1: what a collector is to onloop, decoded with
opentelemetry-proto's own classes (so the wire format is checked, not our idea of it).

`.spans` holds every span received as a `ReceivedSpan`; `.requests` the (path, content type)
of each export, `.bodies` their bytes. `delay_s` makes it a slow collector: it waits that long
before answering (`.waiting` counts the exports it holds so; `release()` lets them go).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    kind: str  # SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT, ...
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status: str  # STATUS_CODE_UNSET, _OK, _ERROR
    resource: dict[str, Any]
    scope: str
    start_ns: int = 0
    end_ns: int = 0
    links: list[str] = field(default_factory=list)


def value_of(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, which) if which else None


def attributes_of(pairs: Any) -> dict[str, Any]:
    return {pair.key: value_of(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


class OtlpReceiver:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.spans: list[ReceivedSpan] = []
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self.waiting = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay_s:
                    receiver._hold()
                receiver._take(self.path, self.headers.get("Content-Type", ""), body)
                reply = ExportTraceServiceResponse().SerializeToString()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):  # the exporter gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def _hold(self) -> None:
        with self._lock:
            self.waiting += 1
        self._released.wait(self.delay_s)
        with self._lock:
            self.waiting -= 1

    def _take(self, path: str, content_type: str, body: bytes) -> None:
        spans = []
        # A process sends its metrics to the same endpoint (/v1/metrics): kept, not read as spans.
        request = ExportTraceServiceRequest.FromString(body if path == "/v1/traces" else b"")
        for resource_spans in request.resource_spans:
            resource = attributes_of(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(_received(span, resource, scope_spans.scope.name))
        with self._lock:
            self.requests.append((path, content_type))
            self.bodies.append(body)
            self.spans.extend(spans)

    def named(self, prefix: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.name.startswith(prefix)]


def _received(span: Span, resource: dict[str, Any], scope: str) -> ReceivedSpan:
    return ReceivedSpan(
        name=span.name,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex(),
        kind=Span.SpanKind.Name(span.kind),
        attributes=attributes_of(span.attributes),
        events=[(e.name, attributes_of(e.attributes)) for e in span.events],
        status=span.status.DESCRIPTOR.fields_by_name["code"]
        .enum_type.values_by_number[span.status.code]
        .name,
        resource=resource,
        scope=scope,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        links=[link.span_id.hex() for link in span.links],
    )
