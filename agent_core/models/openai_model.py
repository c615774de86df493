"""The `openai` provider: Chat Completions with tools, against OpenAI or any compatible server."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from agent_core.models import io_loop
from agent_core.models.base import (
    ModelCancelled,
    ModelError,
    ModelTurn,
    OnDelta,
    ToolCallRequest,
)
from agent_core.models.http_transport import Transport, http_transport
from agent_core.models.messages import encoded_messages, request_body
from agent_core.models.prices import Prices, cost_usd
from agent_core.models.settings import (
    OUTPUT_CAP_HINT,
    TIMEOUT_HINT,
    has_credentials,
    shown_address,
)

# Local servers (Ollama, vLLM, LM Studio, llama.cpp) ignore the key, but the SDK insists on one.
_PLACEHOLDER_KEY = "not-needed"
PREVIEW_EVERY_S = 0.25  # streamed output reaches on_delta at most this often
DEFAULT_TIMEOUT_S = 120.0  # seconds without a byte from the server; local models think slowly
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_OUTPUT_TOKENS = 4096
# What servers say when they cannot take `tools` at all (llama-server without --jinja, an Ollama
# model without tool support, vLLM without auto tool choice): retrying cannot help.
_NO_TOOLS = (
    "requires --jinja",
    "does not support tools",
    "--enable-auto-tool-choice",
    "tools are not supported",
    "tool use is not supported",
)
# llama.cpp's answer when tool-call arguments (in the history, or its own cut-off output) are
# not JSON: the same request fails the same way every time.
_BAD_ARGUMENTS = "failed to parse tool call arguments"
_OPENAI_HOST = "api.openai.com"
COMPLETIONS_PATH = "/chat/completions"


class _AsyncClient(openai.AsyncOpenAI):
    """The SDK's async client, except that errors no retry can fix are not retried."""

    def _should_retry(self, response: Any) -> bool:
        if response.status_code >= 500 and _permanent(_body_text(response)):
            return False
        return super()._should_retry(response)


async def _read_server_error(response: Any) -> None:
    """A 5xx body is read as it arrives (streamed ones too), so `_should_retry` can look at it."""
    if response.status_code >= 500:
        await response.aread()


def _client_for(
    base_url: str | None, api_key: str, timeout_s: float, retries: int, transport: Transport
) -> Any:
    """The process's client for this server, key and transport: one per worker, reused by every
    run."""

    def build() -> _AsyncClient:
        hooks = {"response": [_read_server_error]}
        http = (
            openai.DefaultAioHttpClient(event_hooks=hooks)
            if transport == "aiohttp"
            else openai.DefaultAsyncHttpxClient(event_hooks=hooks)
        )
        return _AsyncClient(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=retries,
            http_client=http,
        )

    key = ("openai", base_url, api_key, timeout_s, retries, transport)
    return io_loop.shared_client(key, build)


class OpenAIModel:
    """One model behind the Chat Completions API; `complete` is cancellable at any moment."""

    provider = "openai"

    def __init__(
        self,
        model_name: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_output_tokens: int | None = DEFAULT_MAX_OUTPUT_TOKENS,
        prices: Prices | None = None,
        stream: bool = True,
    ) -> None:
        self.model_name = model_name
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.max_output_tokens = max_output_tokens or None  # 0 or None: no cap is sent
        self.prices = prices
        self.stream = stream
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if api_key is None:
            if base_url is None:
                raise ModelError(
                    "no API key for the openai model; set OPENAI_API_KEY, or set "
                    "OPENAI_BASE_URL to a local OpenAI-compatible server that needs none"
                )
            api_key = _PLACEHOLDER_KEY
        if base_url is not None and has_credentials(base_url):  # the SDK sends its key as the
            raise ModelError(  # Authorization header: a URL's own credentials cannot go too
                f"the model server's URL ({shown_address(base_url)}) carries a user name or "
                "password, which the OpenAI client cannot send; give OPENAI_BASE_URL without it"
            )
        self._secret = api_key
        # The transport is chosen once per model (a run's session): the environment it reads
        # may change between runs, not within a call.
        transport = http_transport(base_url)
        self._client_key = (base_url, api_key, self.timeout_s, max_retries, transport)
        self.base_url = shown_address(str(self._client.base_url)).rstrip("/")  # for messages
        # OpenAI's newer models refuse `max_tokens`; most compatible servers know only it. A
        # server that names the one it refuses gets the other (see `_request`).
        official = _OPENAI_HOST in self.base_url
        self._cap_param = "max_completion_tokens" if official else "max_tokens"

    @property
    def _client(self) -> Any:
        """The process's shared client for this server (a new one after close_clients)."""
        return _client_for(*self._client_key)

    def close(self) -> None:
        """Nothing to release: the client is the process's (io_loop.close_clients closes it)."""

    def complete(
        self,
        messages: list[dict],
        tools: list[dict],
        *,
        cancel: threading.Event,
        on_delta: OnDelta | None = None,
    ) -> ModelTurn:
        """Sends the request on the process's model I/O loop and waits here; setting `cancel`
        cancels it at once (its stream closed), even before the server sent a byte. While the
        call is in flight, `on_delta` is called in this thread with what streamed in since, every
        PREVIEW_EVERY_S (a preview: a call that ends sooner hands out nothing; the turn has it)."""
        if cancel.is_set():
            raise ModelCancelled("the model call was cancelled before it started")
        started = time.monotonic()
        preview = _Preview(on_delta)
        # The conversation's JSON now, in this thread: the loop may append once this returns.
        request = self._call(encoded_messages(messages), tools, preview)
        try:
            result = io_loop.call(
                request, cancel, tick=preview.flush if on_delta else None, every=PREVIEW_EVERY_S
            )
        except io_loop.Cancelled:
            raise ModelCancelled(
                "the model call was cancelled while waiting for the answer"
            ) from None
        text, tool_calls, tokens_in, tokens_out, finish_reason = result
        return ModelTurn(
            text=text,
            tool_calls=tool_calls,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost_usd(self.model_name, tokens_in, tokens_out, self.prices),
            model_name=self.model_name,
            latency_s=time.monotonic() - started,
            finish_reason=finish_reason,
        )

    async def _call(self, messages, tools, preview: _Preview):
        """Runs on the I/O loop: the result, or a ModelError that is safe to show (raised
        outside the handler, so it carries no SDK error that might hold the key)."""
        try:
            return await self._request(messages, tools, preview)
        except openai.APIError as err:
            failure = ModelError(self._redact(self._explain(err)))
        except json.JSONDecodeError as err:
            failure = ModelError(
                f"the model server at {self.base_url} sent malformed JSON ({err}); check that "
                "OPENAI_BASE_URL points at an OpenAI-compatible API (it usually ends in /v1)"
            )
        raise failure

    async def _request(self, messages: bytes, tools, preview: _Preview):
        # The request goes as a JSON body made here through the client's `post` (the SDK's route
        # for any endpoint): the SDK's recursive TypedDict transform would cost more CPU than
        # everything else in a call, and the conversation comes serialised already (a
        # Transcript's messages each serialised once, however many calls send them).
        body: dict[str, Any] = {"model": self.model_name}
        if tools:
            body["tools"] = tools
        if self.max_output_tokens:
            body[self._cap_param] = self.max_output_tokens
        try:
            return await self._send(body, messages, preview)
        except openai.APIStatusError as err:
            other = self._other_cap_param(err)
            if other is None:
                raise
            body[other] = body.pop(self._cap_param)
            self._cap_param = other
            return await self._send(body, messages, preview)

    def _other_cap_param(self, err: openai.APIStatusError) -> str | None:
        """The other name for the output cap, when the server refused the one we sent."""
        if err.status_code not in (400, 422) or not self.max_output_tokens:
            return None
        if self._cap_param not in _detail(err.body):
            return None
        return (
            "max_tokens" if self._cap_param == "max_completion_tokens" else "max_completion_tokens"
        )

    async def _send(self, body: dict[str, Any], messages: bytes, preview: _Preview):
        async with io_loop.using(self._client) as client:  # not closed under this call
            if not self.stream:
                content = request_body(body, messages)
                completion = await client.post(
                    COMPLETIONS_PATH, cast_to=ChatCompletion, content=content
                )
                return (*_from_completion(completion, self.base_url), _finish_reason(completion))
            # Chunks come as the server's JSON objects (cast_to=object): building a pydantic
            # model of every chunk cost a quarter of a streamed call's CPU. The SDK still sends,
            # retries, decodes the events, stops at [DONE] and raises a server's error events.
            stream = await client.post(
                COMPLETIONS_PATH,
                cast_to=object,
                content=request_body(
                    {**body, "stream": True, "stream_options": {"include_usage": True}}, messages
                ),
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
            turn = _StreamedTurn()
            async with stream:  # closes the response, also when the task is cancelled mid-stream
                async for chunk in self._chunks(stream):
                    turn.add(chunk)
                    preview.add(chunk)
            return turn.result()

    async def _chunks(self, stream: Any) -> AsyncIterator[Any]:
        """The stream's chunks; a stream cut, stalled or ended before the reply did says so."""
        finished = False
        try:
            async for chunk in stream:
                finished = finished or any(_get(c, "finish_reason") for c in _choices(chunk))
                yield chunk
        except openai.APITimeoutError:
            raise ModelError(
                f"the model server at {self.base_url} sent nothing for {self.timeout_s:g}s "
                f"in the middle of a reply (request timeout); {TIMEOUT_HINT}"
            ) from None
        except openai.APIConnectionError as err:
            raise ModelError(
                f"the model server at {self.base_url} closed the stream in the middle of a "
                f"reply ({_reason(err)}); it may have crashed or run out of memory: check "
                "its log, then resume the run"
            ) from None
        if not finished:
            raise ModelError(
                f"the model server at {self.base_url} ended the stream before the reply was "
                "complete (no finish_reason); check its log, then resume the run"
            )

    def _explain(self, err: openai.APIError) -> str:
        # The aiohttp transport reports a refused connection as a connect timeout: the cause
        # says which it was.
        if isinstance(err, openai.APITimeoutError) and not _could_not_connect(err):
            return (
                f"the model server at {self.base_url} timed out after {self.timeout_s:g}s "
                f"({_attempts(err.request)}); check that it is running; a slow local model may "
                f"need longer: {TIMEOUT_HINT}"
            )
        if isinstance(err, openai.APIConnectionError):  # a timeout that could not connect too
            reason = _reason(err)
            if reason in _UNREACHABLE:
                return (
                    f"cannot reach the model server at {self.base_url}: {reason}; check "
                    "OPENAI_BASE_URL and that the server is running"
                )
            return (
                f"the model server at {self.base_url} closed the connection without answering "
                f"({reason}; {_attempts(err.request)}); check that it is still running (its "
                "log may say why), then resume the run"
            )
        if isinstance(err, openai.AuthenticationError):
            # The server's own 401 text may echo part of the key, so it is not repeated.
            return "the API key was refused (401); check OPENAI_API_KEY"
        if isinstance(err, openai.APIStatusError):
            return self._explain_status(err)
        return f"the model server reported an error: {err.message}"

    def _explain_status(self, err: openai.APIStatusError) -> str:
        code, detail = err.status_code, _detail(err.body)
        said = f": {detail}" if detail else ""
        lowered = detail.lower()
        if any(marker in lowered for marker in _NO_TOOLS):
            return (
                f"the model server at {self.base_url} cannot call tools with model "
                f"{self.model_name!r} ({code}{said}); onloop's agents need tool calling, so this "
                "was not retried: start llama-server with --jinja (and a chat template that "
                "renders tools), pick an Ollama model that supports tools, or start vLLM with "
                "--enable-auto-tool-choice and a --tool-call-parser"
            )
        if _BAD_ARGUMENTS in lowered:
            return (
                f"the model server at {self.base_url} could not parse tool-call arguments as "
                f"JSON ({code}{said}); the model's reply was probably cut off by the output cap "
                f"({self.max_output_tokens or 'none'} tokens): {OUTPUT_CAP_HINT}, then resume"
            )
        if code == 429:
            return (
                f"the model server returned 429 (rate limited) after "
                f"{_attempts(err.response.request)}{said}; wait, then resume the run"
            )
        if code >= 500:
            return (
                f"the model server returned {code} (server error) after "
                f"{_attempts(err.response.request)}{said}; try again later"
            )
        if code == 403:
            return f"the model server refused access (403){said}; check OPENAI_API_KEY's access"
        if code == 404:
            return (
                f"the model server at {self.base_url} returned 404 for model "
                f"{self.model_name!r}{said}; check the model name and OPENAI_BASE_URL"
            )
        return f"the model server rejected the request ({code}){said}"

    def _redact(self, message: str) -> str:
        if self._secret != _PLACEHOLDER_KEY and len(self._secret) >= 4:
            message = message.replace(self._secret, "[redacted]")
        return message


class _StreamedTurn:
    """Assembles text and tool calls from streamed deltas; tool calls are keyed by `index`."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.tokens_in = 0
        self.tokens_out = 0
        self.finish_reason: str | None = None

    def add(self, chunk: Any) -> None:
        usage = _get(chunk, "usage")
        if usage is not None:  # the final chunk with empty `choices`, when include_usage is on
            self.tokens_in = _count(usage, "prompt_tokens")
            self.tokens_out = _count(usage, "completion_tokens")
        for choice in _choices(chunk):
            if _text(choice, "finish_reason"):
                self.finish_reason = _text(choice, "finish_reason")
            delta = _get(choice, "delta")
            if delta is None:
                continue
            said = _text(delta, "content") or _text(delta, "refusal")
            if said:
                self.text.append(said)
            for position, call in enumerate(_list(delta, "tool_calls")):
                self._add_call(_index(call, position), call)

    def _add_call(self, index: int, call: Any) -> None:
        slot = self.calls.setdefault(index, {"id": "", "name": "", "arguments": []})
        if _text(call, "id") and not slot["id"]:
            slot["id"] = _text(call, "id")
        function = _get(call, "function")
        if function is None:
            return
        # OpenAI sends the name once; some compatible servers repeat it in every delta.
        name = _text(function, "name")
        if name and name != slot["name"]:
            slot["name"] += name
        if _text(function, "arguments"):
            slot["arguments"].append(_text(function, "arguments"))

    def result(self) -> tuple[str, tuple[ToolCallRequest, ...], int, int, str]:
        calls = tuple(
            _tool_call(index, slot["id"], slot["name"], "".join(slot["arguments"]))
            for index, slot in sorted(self.calls.items())
        )
        finish = self.finish_reason or "stop"
        return "".join(self.text), calls, self.tokens_in, self.tokens_out, finish


# A streamed chunk is the server's JSON as parsed: read it without trusting its shape (a field of
# the wrong type counts as absent), so an odd server yields an empty turn, never a crash.
def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _text(value: Any, key: str) -> str:
    found = _get(value, key)
    return found if isinstance(found, str) else ""


def _list(value: Any, key: str) -> list:
    found = _get(value, key)
    return found if isinstance(found, list) else []


def _choices(chunk: Any) -> list:
    return _list(chunk, "choices")


def _count(value: Any, key: str) -> int:
    found = _get(value, key)
    return found if isinstance(found, int) and not isinstance(found, bool) else 0


def _index(call: Any, position: int) -> int:
    found = _get(call, "index")
    return found if isinstance(found, int) and not isinstance(found, bool) else position


class _Preview:
    """Collects each chunk's new output (on the I/O loop) for `on_delta`, which `flush` calls in
    the waiting thread: text as it is, a tool call as "→ name(" once (some servers repeat the
    name in every delta) and then its raw argument pieces."""

    def __init__(self, on_delta: OnDelta | None) -> None:
        self.on_delta = on_delta
        self.named: set[int] = set()
        self._pieces: list[str] = []  # appended on the loop, taken by the waiter (atomic ops)

    def add(self, chunk: Any) -> None:
        if self.on_delta is None:
            return
        for choice in _choices(chunk):
            delta = _get(choice, "delta")
            if delta is None:
                continue
            self._pieces.append(_text(delta, "content") or _text(delta, "refusal"))
            for position, call in enumerate(_list(delta, "tool_calls")):
                index = _index(call, position)
                function = _get(call, "function")
                name = _text(function, "name")
                if name and index not in self.named:
                    self.named.add(index)
                    self._pieces.append(f"\n→ {name}(")
                self._pieces.append(_text(function, "arguments"))

    def flush(self) -> None:
        taken = len(self._pieces)
        if self.on_delta is None or not taken:
            return
        text = "".join(self._pieces[:taken])
        del self._pieces[:taken]
        if text:
            self.on_delta(text)


def _from_completion(completion: Any, base_url: str) -> tuple[str, tuple, int, int]:
    choices = getattr(completion, "choices", None)
    if choices is None:
        raise ModelError(
            f"the model server at {base_url} did not answer like a Chat Completions API; "
            "check OPENAI_BASE_URL (it usually ends in /v1)"
        )
    usage = completion.usage
    tokens = (usage.prompt_tokens or 0, usage.completion_tokens or 0) if usage else (0, 0)
    if not choices:
        return "", (), *tokens
    message = choices[0].message
    calls = tuple(
        _tool_call(index, call.id, call.function.name, call.function.arguments)
        for index, call in enumerate(message.tool_calls or [])
        if getattr(call, "function", None) is not None
    )
    return message.content or message.refusal or "", calls, *tokens


def _finish_reason(completion: Any) -> str:
    choices = getattr(completion, "choices", None) or []
    return (choices[0].finish_reason if choices else None) or "stop"


def _tool_call(index: int, call_id: str | None, name: str | None, arguments: str | None):
    # Arguments stay the model's raw text, even malformed: the loop reports that back to the
    # model. Only "no arguments at all" becomes "{}", which is what it means.
    raw = arguments if arguments and arguments.strip() else "{}"
    return ToolCallRequest(id=call_id or f"call_{index}", name=name or "", arguments=raw)


def _attempts(request: Any) -> str:
    """How many attempts the SDK made, from the retry count it stamps on each request."""
    try:
        count = int(request.headers.get("x-stainless-retry-count", "0")) + 1
    except (AttributeError, ValueError):
        count = 1
    return "1 attempt" if count == 1 else f"{count} attempts"


_UNREACHABLE = ("connection refused", "the host name could not be resolved")


def _permanent(body: str) -> bool:
    lowered = body.lower()
    return _BAD_ARGUMENTS in lowered or any(marker in lowered for marker in _NO_TOOLS)


def _body_text(response: Any) -> str:
    """An error response's body (read by `_read_server_error`), or "" when it was not read."""
    try:
        return response.text
    except Exception:  # noqa: BLE001 - only decides whether to retry
        return ""


def _could_not_connect(err: BaseException) -> bool:
    """Whether an error's causes include an OS error other than a timeout (refused, no route,
    unknown host)."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(err: BaseException) -> str:
    """The root cause of a connection failure, in plain words."""
    while (err.__cause__ or err.__context__) is not None:
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    text = str(err) or type(err).__name__
    lowered = text.lower()
    if "refused" in lowered or isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "the host name could not be resolved"
    return text


def _detail(body: object) -> str:
    """The server's own error message, shortened."""
    message = body.get("message") if isinstance(body, dict) else body
    text = str(message).strip() if message else ""
    return text if len(text) <= 300 else text[:297] + "..."
