"""The model I/O loop closes the async generators a finished stream leaves suspended without
waking itself through its self-pipe when they are dropped on its own thread, and still closes
those dropped on any other thread (where the collector may run)."""

from __future__ import annotations

import asyncio
import gc
import threading

from agent_core.models import io_loop
from agent_core.models.openai_model import OpenAIModel
from tests.support.fake_openai import Reply


class _Watched:
    """An async generator left suspended at its first yield; `closed` is set by its finally."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    async def source(self):
        try:
            yield 1
            yield 2
        finally:
            self.closed.set()


def _wake_ups(monkeypatch, loop: asyncio.AbstractEventLoop) -> list[int]:
    """Count the loop's self-pipe writes from here on (what call_soon_threadsafe does)."""
    woken: list[int] = []
    real = loop._write_to_self  # type: ignore[attr-defined]

    def counted() -> None:
        woken.append(threading.get_ident())
        real()

    monkeypatch.setattr(loop, "_write_to_self", counted)
    return woken


def _on_loop(coroutine):
    return asyncio.run_coroutine_threadsafe(coroutine, io_loop.io_loop()).result(5)


def test_a_generator_dropped_on_the_loop_is_closed_without_a_self_pipe_wake_up(monkeypatch):
    loop = io_loop.io_loop()
    watched = _Watched()

    async def leave_it_suspended() -> int:
        source = watched.source()
        first = await source.__anext__()
        del source  # dropped here, on the loop's thread, suspended at its first yield
        await asyncio.sleep(0)  # the closing task runs
        await asyncio.sleep(0)
        return first

    woken = _wake_ups(monkeypatch, loop)
    loop_thread = _on_loop(_thread_ident())
    assert _on_loop(leave_it_suspended()) == 1
    assert watched.closed.wait(5)
    assert loop_thread not in woken  # the loop never woke itself through the pipe


def test_a_generator_dropped_on_another_thread_is_still_closed_on_the_loop(monkeypatch):
    loop = io_loop.io_loop()
    watched = _Watched()
    kept: list = []

    async def start_it() -> int:
        source = watched.source()
        kept.append(source)
        return await source.__anext__()

    assert _on_loop(start_it()) == 1
    woken = _wake_ups(monkeypatch, loop)
    here = threading.get_ident()
    kept.clear()  # the last reference goes here, on this thread: the finalizer runs here
    gc.collect()
    assert watched.closed.wait(5)  # closed by a task the loop was woken to run
    assert here in woken


def _thread_ident():
    async def ident() -> int:
        return threading.get_ident()

    return ident()


def test_streamed_calls_leave_no_generator_open_and_never_wake_the_loop_to_close_one(
    fake_openai, monkeypatch
):
    """A streamed reply leaves the SDK's event iterators suspended at `[DONE]` (dropped at once,
    on the loop) and three more of the transport's in a reference cycle (dropped when the
    collector runs): each is closed on the loop by its next turn, none through the self-pipe
    from the loop's own thread. The collector is held off during the calls and run on the loop,
    so which thread drops the cycle is not left to chance."""
    loop, calls = io_loop.io_loop(), 3
    loop_thread = _on_loop(_thread_ident())
    model = OpenAIModel("gpt-test", api_key="k", base_url=fake_openai.base_url)
    fake_openai.script([Reply(text=f"answer {n}") for n in range(calls)])

    async def open_generators() -> set:
        gc.collect()  # here, on the loop's thread
        for _ in range(3):  # the closing tasks run
            await asyncio.sleep(0)
        return set(loop._asyncgens)  # type: ignore[attr-defined]  # asyncio's own

    earlier = _on_loop(open_generators())  # other tests' streams, cut mid-way, may linger
    woken = _wake_ups(monkeypatch, loop)
    collecting = gc.isenabled()
    gc.disable()
    try:
        for n in range(calls):
            turn = model.complete([{"role": "user", "content": "hi"}], [], cancel=threading.Event())
            assert turn.text == f"answer {n}"
    finally:
        if collecting:
            gc.enable()
    left = _on_loop(open_generators()) - earlier
    assert [agen.__qualname__ for agen in left] == []
    assert loop_thread not in woken
