"""The model call on the lean hot path: no thread per call, cancelled at once by a signal or a halt,
one model client per process reused across runs and closed, and a hostile server's stream
chunks read without a crash."""

from __future__ import annotations

import gc
import threading
import weakref
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import storage
from agent_core.models import io_loop
from agent_core.models.base import ModelCancelled
from agent_core.models.openai_model import OpenAIModel
from agent_core.oversight import control
from agent_core.oversight.policy import Policy
from agent_core.run.halt_watcher import watcher_for
from agent_core.run.port import StoreRunPort
from agent_core.tools.cancel_token import CancelReason, CancelToken
from agent_core.worker.claim_loop import Worker
from tests.support.fake_openai import Reply
from tests.support.halt_helpers import (
    assert_nothing_started_after_the_halt,
    count,
    serve,
    settle,
    stop,
)
from tests.support.run_helpers import Driver, events_of, new_run, per_call_threads, wait_for


def openai_for(fake_openai):
    def build(run) -> OpenAIModel:
        return OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=0)

    return build


# -- the model call: no thread of its own, cancelled at once ----------------------------------


def test_many_model_calls_start_no_thread_per_call(fake_openai):
    fake_openai.script([f"answer {n}" for n in range(30)])
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url)
    model.complete([{"role": "user", "content": "warm up"}], [], cancel=threading.Event())
    before = {t.ident for t in threading.enumerate()}  # earlier tests' threads may still end
    started: set[str] = set()
    for n in range(1, 30):
        cancel = CancelToken()
        turn = model.complete([{"role": "user", "content": f"q{n}"}], [], cancel=cancel)
        assert turn.text == f"answer {n}"
        started |= {t.name for t in threading.enumerate() if t.ident not in before}
    assert started == set()  # no helper thread, no timer, nothing left behind
    assert per_call_threads() == []
    assert [t.name for t in threading.enumerate()].count(io_loop.THREAD_NAME) == 1


@pytest.mark.parametrize("stream", [True, False])
def test_a_cancel_token_cuts_a_call_before_the_server_sends_a_byte(fake_openai, stream):
    fake_openai.script([Reply(text="too late", delay_s=60)])
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, stream=stream)
    cancel = CancelToken()
    outcome: dict[str, BaseException] = {}

    def call() -> None:
        try:
            model.complete([{"role": "user", "content": "slow"}], [], cancel=cancel)
        except BaseException as error:  # noqa: BLE001 - inspected below
            outcome["error"] = error

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: len(fake_openai.requests) == 1, what="the request to arrive")
    cancel.set()
    caller.join(10)  # the 60 s answer never comes: the token woke the waiter
    assert not caller.is_alive()
    assert isinstance(outcome.get("error"), ModelCancelled)


def test_a_cancel_token_runs_its_callbacks_once_and_keeps_its_first_reason():
    signal = CancelToken()
    calls: list[str] = []
    remove = signal.on_set(lambda: calls.append("a"))
    signal.on_set(lambda: calls.append("b"))
    remove()
    assert signal.cancel(CancelReason.HALTED)
    assert not signal.cancel(CancelReason.DEADLINE)
    signal.set()
    assert calls == ["b"] and signal.reason is CancelReason.HALTED
    signal.on_set(lambda: calls.append("c"))  # set already: runs now
    assert calls == ["b", "c"] and signal.is_set()


def test_a_halt_during_a_model_call_cancels_it_through_the_watcher(store, fake_openai):
    fake_openai.script([Reply(text="too late", delay_s=60)])
    run = new_run(store, "think slowly", model="openai", autonomy="autonomous")
    workers = [Worker(store, concurrency=1, poll_s=0.01, model_factory=openai_for(fake_openai))]
    threads = serve(workers)
    try:
        wait_for(lambda: len(fake_openai.requests) == 1, what="the request to arrive")
        assert per_call_threads() == []
        control.halt(store, run_id=run.id, by="ann")
        settle(store, [run.id], timeout=20)  # long before the 60 s answer
    finally:
        stop(workers, threads)
    assert_nothing_started_after_the_halt(store, run.id)
    assert count(store, run.id, "model_call") == 0
    assert storage.get_run(store, run_id=run.id).status == "halted"


@pytest.mark.parametrize("side", ["goal_check", "judge"])
def test_a_halt_cuts_a_judge_or_goal_check_call_in_flight(store, fake_openai, side):
    from agent_core.oversight.policy import MonitorSettings

    if side == "goal_check":  # the answer, then the check of it hangs
        policy = Policy(monitors=MonitorSettings(final_check=True))
        first = Reply(text="All done.")
    else:  # a step, then the progress judge hangs
        policy = Policy(monitors=MonitorSettings(judge_every=1))
        first = Reply(tool_calls=[{"name": "calculator", "arguments": {"expression": "1+1"}}])
    fake_openai.script([first, Reply(text='{"met": true, "score": 1}', delay_s=60)])
    run = new_run(store, "check slowly", model="openai", autonomy="autonomous", policy=policy)
    workers = [Worker(store, concurrency=1, poll_s=0.01, model_factory=openai_for(fake_openai))]
    threads = serve(workers)
    try:
        wait_for(lambda: len(fake_openai.requests) == 2, what="the side call to arrive")
        control.halt(store, run_id=run.id, by="ann")
        settle(store, [run.id], timeout=20)  # long before the 60 s answer
    finally:
        stop(workers, threads)
    assert storage.get_run(store, run_id=run.id).status == "halted"
    assert count(store, run.id, side) == 0


def test_the_time_budget_cuts_a_model_call_without_a_timer(store, fake_openai):
    fake_openai.script([Reply(text="too late", delay_s=60)])
    run = new_run(store, "think too long", model="openai", autonomy="autonomous", max_seconds=1)
    outcome = Driver(store, run, openai_for(fake_openai)(run)).start().join(20)
    assert outcome.status == "paused"  # a spent budget pauses and asks
    assert [e.payload["monitor"] for e in events_of(store, run.id, "drift")] == ["budget_time"]
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


# -- one model client per process, reused across runs, closed at shutdown ----------------------


def test_runs_share_one_client_and_the_worker_closes_it(store, fake_openai):
    io_loop.close_clients()
    fake_openai.script(["one", "two", "three"])
    runs = [
        new_run(store, f"What is {n}?", model="openai", autonomy="autonomous") for n in range(3)
    ]
    worker = Worker(store, concurrency=1, poll_s=0.01, model_factory=openai_for(fake_openai))
    threads = serve([worker])
    try:
        settle(store, [r.id for r in runs], timeout=30)
        assert io_loop.client_count() == 1
        (client,) = io_loop._clients.values()
        assert not client.is_closed()
    finally:
        stop([worker], threads)
    assert [storage.get_run(store, run_id=r.id).status for r in runs] == ["succeeded"] * 3
    assert client.is_closed() and io_loop.client_count() == 0
    # Three runs one after another, one keep-alive connection: the server saw one client port.
    assert len(fake_openai.peers) == 3 and len(set(fake_openai.peers)) == 1


def test_the_conversation_goes_on_the_wire_exactly_as_given(fake_openai):
    """Messages and tools skip the SDK's transform (extra_body): the JSON sent is the same."""
    fake_openai.script(["ok"])
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 6*7?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    tools = [{"type": "function", "function": {"name": "calculator", "parameters": {}}}]
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url)
    assert model.complete(messages, tools, cancel=threading.Event()).text == "ok"
    (sent,) = fake_openai.requests
    assert sent["messages"] == messages and sent["tools"] == tools
    assert sent["model"] == "fake-model" and sent["max_tokens"] == 4096 and sent["stream"] is True


def test_a_client_in_use_by_another_worker_closes_only_after_its_call(fake_openai):
    """Two workers in one process share the client: the first one's shutdown must not cut the
    other's call; the client closes when that call ends."""
    fake_openai.script([Reply(text="still answered", delay_s=1.0)])
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url)
    client = model._client
    answers: list[str] = []
    caller = threading.Thread(
        target=lambda: answers.append(
            model.complete([{"role": "user", "content": "q"}], [], cancel=threading.Event()).text
        )
    )
    caller.start()
    wait_for(lambda: len(fake_openai.requests) == 1, what="the request to arrive")
    io_loop.close_clients()  # one worker shuts down
    assert not client.is_closed() and io_loop.client_count() == 0
    caller.join(20)
    assert answers == ["still answered"]
    wait_for(client.is_closed, what="the client to close after its last call")


def test_the_process_watcher_map_does_not_keep_a_store_alive(tmp_path):
    opened = storage.open_store(f"sqlite:///{tmp_path / 'gone.db'}")
    run = new_run(opened, "short-lived", model="scripted")
    port = StoreRunPort(opened, run.id)
    assert port.halt_requested() is False  # registered with the store's watcher
    port.close()
    watcher = watcher_for(opened)
    wait_for(
        lambda w=watcher: w._thread is None,
        what="the watcher to stop (it holds the store only mid-poll)",
    )
    del watcher
    gone = weakref.ref(opened)
    opened.dispose()
    del port, opened
    gc.collect()
    assert gone() is None  # its engine and connections are not pinned by the watcher map


def test_a_halt_cuts_a_trickling_answer_and_only_its_own_run(store, fake_openai):
    """Attack on the shared model loop: a server that keeps a stream alive with a byte now and
    then (no read timeout ever fires) while three runs share one client, one I/O loop and one
    watcher. Halting one run cuts its stream at once; the other two streams go on and finish."""
    slow = " ".join(f"w{n}" for n in range(30))
    fake_openai.script([Reply(text=slow, chunk_delay_s=0.3) for _ in range(3)])
    runs = [
        new_run(store, f"Trickle {n}?", model="openai", autonomy="autonomous") for n in range(3)
    ]
    workers = [Worker(store, concurrency=3, poll_s=0.01, model_factory=openai_for(fake_openai))]
    threads = serve(workers)
    try:
        wait_for(lambda: len(fake_openai.requests) == 3, what="three streams to be open")
        control.halt(store, run_id=runs[0].id, by="ann")
        wait_for(
            lambda: storage.get_run(store, run_id=runs[0].id).status == "halted",
            what="the halted run to end while the others still stream",
        )
        assert all(storage.get_run(store, run_id=r.id).status == "running" for r in runs[1:])
        settle(store, [r.id for r in runs], timeout=60)
    finally:
        stop(workers, threads)
    assert_nothing_started_after_the_halt(store, runs[0].id)
    assert count(store, runs[0].id, "model_call") == 0
    for run in runs[1:]:
        assert storage.get_run(store, run_id=run.id).status == "succeeded"
        (turn,) = events_of(store, run.id, "model_call")
        assert turn.payload["text"] == slow  # the whole answer: nothing cut it short


# -- streamed chunks read as the server's JSON: a hostile server's shapes never crash the read --


HOSTILE_CHUNKS = [
    '{"choices": "nonsense"}',
    "[1, 2, 3]",
    '"just a string"',
    '{"choices": [null, 5, {"delta": null}, {"delta": {"content": 5, "tool_calls": {"a": 1}}}]}',
    '{"choices": [{"delta": {"tool_calls": [{"index": "x", "id": 7, '
    '"function": {"name": ["rm"], "arguments": {"a": 1}}}, "str", null]}}]}',
    '{"choices": [{"delta": {"content": "o", "refusal": 3}, "finish_reason": 7}]}',
    '{"choices": [{"delta": {"content": "k"}, "finish_reason": "stop"}], '
    '"usage": {"prompt_tokens": "9", "completion_tokens": 3}}',
]


class _HostileStream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the handler's API)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = "".join(f"data: {chunk}\n\n" for chunk in HOSTILE_CHUNKS) + "data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_a_stream_of_oddly_shaped_chunks_reads_as_what_is_well_formed():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileStream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        model = OpenAIModel("odd", api_key="k", base_url=base_url, max_retries=0)
        seen: list[str] = []
        turn = model.complete(
            [{"role": "user", "content": "hi"}], [], cancel=CancelToken(), on_delta=seen.append
        )
    finally:
        server.shutdown()
        server.server_close()
    assert turn.text == "ok"  # only the string pieces count
    assert (turn.tokens_in, turn.tokens_out) == (0, 3)  # "9" is not a count
    assert turn.finish_reason == "stop"
    # The malformed tool-call deltas leave calls with no name and no arguments, which the loop
    # answers with "unknown tool" and the list of tools; nothing of the wrong type gets through.
    assert all(call.name == "" and call.arguments == "{}" for call in turn.tool_calls)
