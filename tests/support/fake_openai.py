"""A real HTTP server on 127.0.0.1 that speaks the Chat Completions protocol, scripted per request.

Use it through the `fake_openai` fixture: `fake_openai.script([...])` queues one reply per
request (a str = a text answer, a dict of `Reply` fields, a `Reply`, or a function of the
request's JSON body returning one of those: a judge that answers from what it was shown);
`.requests` holds the JSON bodies received and `.headers` their headers (lower-cased names).

Like llama.cpp's `llama-server`, it refuses (500, "Failed to parse tool call arguments as JSON")
a request whose history holds an assistant tool call with arguments that are not JSON, without
using up a scripted reply. `.refuse_tools = (status, message)` makes it refuse every request
that carries `tools` (llama-server without --jinja: 500 "tools param requires --jinja flag");
`.unsupported_params` names request fields it refuses with a 400, as OpenAI refuses
`max_tokens` for its newer models.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ERROR_TYPES = {401: "invalid_request_error", 429: "rate_limit_error"}


@dataclass
class Reply:
    """One scripted answer. `tool_calls` items: {"name", "arguments": str | dict, "id"?}.

    A tool call without an "id" key gets a generated one; "id": None omits it from the wire,
    as some compatible servers do. A str `arguments` is sent verbatim (malformed JSON too).
    """

    text: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    usage: tuple[int, int] | None = (12, 7)  # (prompt, completion) tokens; None = no usage
    status: int = 200
    error_message: str = "scripted error"
    delay_s: float = 0.0  # before the response starts
    chunk_delay_s: float = 0.0  # between SSE chunks
    interleave: bool = False  # interleave the argument pieces of parallel tool calls
    # None: "tool_calls" or "stop" as the reply has calls or not; "" sends none at all.
    finish_reason: str | None = None
    disconnect_after: int | None = None  # streaming: close the socket after this many chunks
    retry_after_ms: int = 5  # on 429/5xx: keeps the SDK's retry backoff short in tests
    hold_at: tuple[int, ...] = ()  # SSE chunk numbers that wait for `proceed()` before going out


class FakeOpenAIServer:
    """A threaded Chat Completions server; start(), then point the SDK at `.base_url`."""

    def __init__(self) -> None:
        self._replies: list[Reply | Callable[[dict], Reply | dict | str]] = []
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.peers: list[tuple[str, int]] = []  # each request's client address: its connection
        self.refuse_tools: tuple[int, str] | None = None
        self.unsupported_params: set[str] = set()
        self.stopping = threading.Event()
        self._proceed = threading.Semaphore(0)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        # A short poll interval keeps shutdown (each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes handlers sleeping in a scripted delay
        self._httpd.shutdown()
        self._httpd.server_close()

    def proceed(self) -> None:
        """Let a stream held at one of its `hold_at` chunks go on to the next hold (or the end)."""
        self._proceed.release()

    def wait_to_proceed(self) -> bool:
        """In a handler: block until proceed() (True) or the server stops (False)."""
        while not self._proceed.acquire(timeout=0.05):
            if self.stopping.is_set():
                return False
        return True

    def script(
        self, replies: list[Reply | dict | str | Callable[[dict], Reply | dict | str]]
    ) -> None:
        """Queue replies, one per incoming chat request, in order."""
        with self._lock:
            self._replies.extend(r if callable(r) else _as_reply(r) for r in replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._replies)

    def _take(self, body: dict, headers: dict[str, str]) -> Reply | None:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            refusal = self._refusal(body)
            if refusal is not None:
                return refusal
            reply = self._replies.pop(0) if self._replies else None
        return _as_reply(reply(body)) if callable(reply) else reply

    def _refusal(self, body: dict) -> Reply | None:
        """What a strict server answers before it generates anything (no reply is used up)."""
        for name in sorted(self.unsupported_params & set(body)):
            message = f"Unsupported parameter: '{name}' is not supported with this model."
            return Reply(status=400, error_message=message)
        if self.refuse_tools is not None and body.get("tools"):
            return Reply(status=self.refuse_tools[0], error_message=self.refuse_tools[1])
        problem = _history_problem(body.get("messages") or [])
        if problem is not None:
            return Reply(status=500, error_message=problem)
        return None


def _as_reply(reply: Reply | dict | str) -> Reply:
    if isinstance(reply, Reply):
        return reply
    if isinstance(reply, str):
        return Reply(text=reply)
    return Reply(**reply)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers; SSE uses chunked encoding
    cut_after: int | None = None  # SSE chunks sent before the connection drops (Reply field)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def setup(self) -> None:
        super().setup()
        # As real servers (uvicorn, Go's net/http): no Nagle wait between headers and body,
        # which costs the async client a delayed ACK (~40 ms) per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def fake(self) -> FakeOpenAIServer:
        return self.server.fake  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            models = [
                {"id": name, "object": "model", "created": 0, "owned_by": "fake"}
                for name in ("fake-model", "gpt-4o-mini")
            ]
            self._send_json(200, {"object": "list", "data": models})
        else:
            self._send_json(404, _error_body(404, f"no route GET {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, _error_body(404, f"no route POST {self.path}"))
            return
        body = json.loads(raw or b"{}")
        self.fake.peers.append(self.client_address)
        reply = self.fake._take(body, {k.lower(): v for k, v in self.headers.items()})
        if reply is None:
            # Not retryable, so a test that under-scripted fails at once and says why.
            self._send_json(
                400,
                _error_body(400, "fake_openai: no scripted reply left"),
                {"x-should-retry": "false"},
            )
            return
        if reply.delay_s and self.fake.stopping.wait(reply.delay_s):
            self.close_connection = True
            return
        try:
            self._answer(reply, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (cancelled or timed out)

    def _answer(self, reply: Reply, body: dict) -> None:
        self.cut_after = reply.disconnect_after
        if reply.status != 200:
            headers = {"Retry-After": "0", "retry-after-ms": str(reply.retry_after_ms)}
            self._send_json(reply.status, _error_body(reply.status, reply.error_message), headers)
            return
        model = body.get("model", "fake-model")
        calls = _wire_calls(reply.tool_calls)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = _stream_chunks(reply, calls, model, include_usage)
            self._send_sse(chunks, reply.chunk_delay_s, reply.hold_at)
        else:
            self._send_json(200, _completion(reply, calls, model))

    def _send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, chunks: list[dict], chunk_delay_s: float, hold_at=()) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
        for number, event in enumerate(events):
            if number and chunk_delay_s and self.fake.stopping.wait(chunk_delay_s):
                self.close_connection = True
                return
            if number in hold_at and not self.fake.wait_to_proceed():
                self.close_connection = True
                return
            data = event.encode()
            if self.cut_after is not None and number >= self.cut_after:  # a crashed server
                self.connection.shutdown(socket.SHUT_RDWR)  # no final chunk, no [DONE]
                self.close_connection = True
                return
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def _history_problem(messages: list[dict]) -> str | None:
    """llama.cpp parses every assistant tool call's arguments in the history before rendering."""
    for message in messages:
        if message.get("role") != "assistant":
            continue
        for call in message.get("tool_calls") or []:
            arguments = (call.get("function") or {}).get("arguments")
            if not isinstance(arguments, str):
                continue
            try:
                json.loads(arguments)
            except ValueError as exc:
                return (
                    "Failed to parse tool call arguments as JSON: "
                    f"[json.exception.parse_error.101] parse error: {exc}"
                )
    return None


def _error_body(status: int, message: str) -> dict:
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _wire_calls(tool_calls: list[dict]) -> list[dict]:
    """Tool calls as the server sends them: ids generated or omitted, arguments as text."""
    wire = []
    for index, call in enumerate(tool_calls):
        arguments = call.get("arguments", {})
        entry: dict[str, Any] = {
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            },
        }
        if "id" not in call:
            entry["id"] = f"call_fake{index}"
        elif call["id"] is not None:
            entry["id"] = call["id"]
        wire.append(entry)
    return wire


def _usage(reply: Reply) -> dict | None:
    if reply.usage is None:
        return None
    prompt, completion = reply.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(reply: Reply, calls: list[dict], model: str) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if calls:
        message["tool_calls"] = calls
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": _finish_reason(reply, calls),
        "logprobs": None,
    }
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    if reply.usage is not None:
        payload["usage"] = _usage(reply)
    return payload


def _stream_chunks(reply: Reply, calls: list[dict], model: str, include_usage: bool) -> list:
    def chunk(delta: dict | None, finish: str | None = None) -> dict:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in _pieces(reply.text)]
    chunks += [chunk({"tool_calls": [delta]}) for delta in _call_deltas(calls, reply.interleave)]
    chunks.append(chunk({}, _finish_reason(reply, calls)))
    if include_usage:
        final = chunk(None)
        final["usage"] = _usage(reply)
        chunks.append(final)
    return chunks


def _finish_reason(reply: Reply, calls: list[dict]) -> str | None:
    if reply.finish_reason is None:
        return "tool_calls" if calls else "stop"
    return reply.finish_reason or None


def _call_deltas(calls: list[dict], interleave: bool) -> list[dict]:
    """Each call's head (id, name) then its arguments in pieces, all keyed by `index`."""
    per_call = []
    for index, call in enumerate(calls):
        head = {
            "index": index,
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        if "id" in call:
            head["id"] = call["id"]
        tail = [
            {"index": index, "function": {"arguments": piece}}
            for piece in _pieces(call["function"]["arguments"])
        ]
        per_call.append([head, *tail])
    if not interleave:
        return [delta for deltas in per_call for delta in deltas]
    rounds = max((len(deltas) for deltas in per_call), default=0)
    return [deltas[n] for n in range(rounds) for deltas in per_call if n < len(deltas)]


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]
