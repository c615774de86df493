"""A lean local OpenAI-compatible Chat Completions server for load: the model of the benchmarks.

Run from the repo root: `python benchmarks/chat_server.py [--port 0] [--latency-ms 0] [--steps 20]`.
It prints `listening http://127.0.0.1:PORT/v1` on its first line, then serves until SIGTERM or
Ctrl-C. asyncio, raw HTTP/1.1 with keep-alive, streamed (SSE) and plain replies, every request
held `latency` ms (a sleep, not a thread: hundreds of connections wait at once).

The conversation is scripted and stateless, read off each request: with K tool results in the
messages so far, a conversation of N steps answers a tool call while K < N-1 (the tool named
`calculator` when the request offers it, else the first tool offered, with arguments
`{"expression": "K+1"}`: different each time, so no repetition monitor trips), then the final
step: a `finish(goal_met=true)` call when the request offers a `finish` tool (onloop's way to end
a run), else a plain text answer. A request whose system message asks to check whether a goal
was met (onloop's final goal check) gets `{"met": true}`.

The model name may override the server's defaults per request: `bench-s5-l500` is a conversation
of 5 steps whose replies each wait 500 ms (either part may be left out).

`GET /stats` answers JSON {"requests": served so far, "inflight": held right now}.

`--load URL` turns this script into a load client instead: `--connections` keep-alive
connections, each sending a first-step request of a conversation as soon as its last reply came,
for `--seconds`; it prints requests/s (how many the server at URL sustains).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time
from typing import Any

_MODEL_OPTIONS = re.compile(r"-(s|l)(\d+)")
GOAL_CHECK_MARK = "You check whether"


class Script:
    def __init__(self, steps: int, latency_ms: float) -> None:
        self.steps = steps
        self.latency_ms = latency_ms
        self.requests = 0
        self.inflight = 0
        self.calls = 0  # ids of tool calls: unique within the server's life

    def options(self, model: str) -> tuple[int, float]:
        steps, latency = self.steps, self.latency_ms
        for key, value in _MODEL_OPTIONS.findall(model or ""):
            if key == "s":
                steps = max(1, int(value))
            else:
                latency = float(value)
        return steps, latency

    def reply(self, body: dict[str, Any], steps: int) -> tuple[str, list[dict[str, Any]]]:
        """(text, tool calls) of the next step of the conversation this request continues."""
        messages = body.get("messages") or []
        first = messages[0] if messages else {}
        if first.get("role") == "system" and GOAL_CHECK_MARK in str(first.get("content") or ""):
            return '{"met": true, "reason": "the benchmark goal is always met"}', []
        done = sum(1 for m in messages if m.get("role") == "tool")
        names = [
            (t.get("function") or {}).get("name")
            for t in body.get("tools") or []
            if isinstance(t, dict)
        ]
        self.calls += 1
        call_id = f"call_{self.calls}"
        if done < steps - 1 and names:
            name = "calculator" if "calculator" in names else names[0]
            arguments = json.dumps({"expression": f"{done}+1"})
            return "", [{"id": call_id, "name": name, "arguments": arguments}]
        if "finish" in names:
            arguments = json.dumps({"goal_met": True, "summary": f"done after {done} tool calls"})
            return "", [{"id": call_id, "name": "finish", "arguments": arguments}]
        return f"Done after {done} tool calls.", []


def _tool_call(index: int, call: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": index,
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": call["arguments"]},
    }


def completion_body(model: str, text: str, calls: list[dict[str, Any]], usage: dict) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [
            {k: v for k, v in _tool_call(i, c).items() if k != "index"} for i, c in enumerate(calls)
        ]
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }
    ).encode()


def stream_body(
    model: str, text: str, calls: list[dict[str, Any]], usage: dict, with_usage: bool
) -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = model

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return "data: " + json.dumps({**base, "choices": [choice], **extra}) + "\n\n"

    parts = [chunk({"role": "assistant", "content": ""})]
    if text:
        parts.append(chunk({"content": text}))
    if calls:
        parts.append(chunk({"tool_calls": [_tool_call(i, c) for i, c in enumerate(calls)]}))
    parts.append(chunk({}, "tool_calls" if calls else "stop"))
    if with_usage:
        parts.append("data: " + json.dumps({**base, "choices": [], "usage": usage}) + "\n\n")
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


def _response(status: str, content_type: str, body: bytes, keep_alive: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode() + body


class Server:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = (lines[0].split(" ") + ["", ""])[:3]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                keep_alive = headers.get("connection", "").lower() != "close"
                writer.write(await self.route(method, path, body, keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the client went away, or the server is stopping
        finally:
            writer.close()

    async def route(self, method: str, path: str, raw: bytes, keep_alive: bool) -> bytes:
        path = path.split("?", 1)[0]
        if method == "GET" and path.rstrip("/").endswith("/stats"):
            stats = {"requests": self.script.requests, "inflight": self.script.inflight}
            return _response("200 OK", "application/json", json.dumps(stats).encode(), keep_alive)
        if method == "GET" and path.rstrip("/").endswith("/health"):
            return _response("200 OK", "application/json", b'{"status": "ok"}', keep_alive)
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            error = json.dumps({"error": {"message": f"no route {method} {path}"}}).encode()
            return _response("404 Not Found", "application/json", error, keep_alive)
        try:
            body = json.loads(raw)
        except ValueError:
            error = json.dumps({"error": {"message": "the body is not JSON"}}).encode()
            return _response("400 Bad Request", "application/json", error, keep_alive)
        model = str(body.get("model") or "bench")
        steps, latency_ms = self.script.options(model)
        self.script.requests += 1
        self.script.inflight += 1
        try:
            if latency_ms > 0:
                await asyncio.sleep(latency_ms / 1000)
        finally:
            self.script.inflight -= 1
        text, calls = self.script.reply(body, steps)
        usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
        if body.get("stream"):
            with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            sse = stream_body(model, text, calls, usage, with_usage)
            return _response("200 OK", "text/event-stream", sse, keep_alive)
        reply = completion_body(model, text, calls, usage)
        return _response("200 OK", "application/json", reply, keep_alive)


async def serve(host: str, port: int, script: Script) -> None:
    server = await asyncio.start_server(Server(script).handle, host, port, backlog=1024)
    bound = server.sockets[0].getsockname()
    print(f"listening http://{bound[0]}:{bound[1]}/v1", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


async def load(url: str, connections: int, seconds: float, model: str, stream: bool) -> None:
    """Keep-alive connections that each send the next request when the reply is in."""
    rest = url.split("://", 1)[1]
    hostport, _, prefix = rest.partition("/")
    host, _, port = hostport.partition(":")
    body = json.dumps(
        {
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": "add up"}],
            "tools": [{"type": "function", "function": {"name": "calculator"}}],
        }
    ).encode()
    request = (
        f"POST /{prefix.rstrip('/')}/chat/completions HTTP/1.1\r\nHost: {hostport}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    done = [0]
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port or 80))
        try:
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
                latencies.append(time.monotonic() - sent)
                done[0] += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    took = time.monotonic() - started
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
    print(
        f"{done[0]} requests in {took:.2f} s over {connections} connections: "
        f"{done[0] / took:.0f} requests/s, reply p50 {p50:.1f} ms",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait before each reply")
    parser.add_argument("--steps", type=int, default=20, help="model calls per conversation")
    parser.add_argument("--load", metavar="URL", help="be a load client of the server at URL")
    parser.add_argument("--connections", type=int, default=200, help="with --load")
    parser.add_argument("--seconds", type=float, default=5.0, help="with --load")
    parser.add_argument("--stream", action="store_true", help="with --load: streamed replies")
    args = parser.parse_args(argv)
    if args.load:
        if not args.load.startswith("http://") or args.connections < 1:
            parser.error("--load takes the server's http:// URL (as it prints); --connections >= 1")
        model = f"bench-l{int(args.latency_ms)}"
        asyncio.run(load(args.load, args.connections, args.seconds, model, args.stream))
        return
    if args.steps < 1 or args.latency_ms < 0:
        parser.error("--steps must be at least 1 and --latency-ms at least 0")
    try:
        asyncio.run(serve(args.host, args.port, Script(args.steps, args.latency_ms)))
    except OSError as exc:
        sys.exit(f"chat_server: cannot listen on {args.host}:{args.port}: {exc}")


if __name__ == "__main__":
    main()
