"""Live partial output: while a turn streams, the store holds what the model has said so far; once
the turn is recorded as its model_call event, that preview is gone and the event has all of it."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import threading

import pytest

import storage
from agent_core.cli.live_line import CLEAR, LiveLine, live_line
from agent_core.cli.run import _Follower
from agent_core.models.demo import DemoModel
from agent_core.models.openai_model import OpenAIModel
from agent_core.models.scripted import ScriptedModel
from agent_core.run import port as port_module
from agent_core.run.port import StoreRunPort
from agent_core.tools import builtin_tools
from dashboard.routes import RUN_PAGE
from storage.live import MAX_LIVE_CHARS
from tests.support.dashboard_fixtures import app_at, make_run, open_store
from tests.support.fake_openai import Reply
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

TEXT = "Let me compute that."
ARGS = {"expression": "6 * 7"}


def live_text(store, run_id):
    partial = storage.live_output(store, run_id=run_id)
    return partial.text if partial else None


# -- the store ---------------------------------------------------------------------------------


def test_one_row_per_run_replaced_then_cleared(any_store):
    run = storage.create_run(any_store, goal="g")
    assert storage.live_output(any_store, run_id=run.id) is None
    storage.set_live_output(any_store, run_id=run.id, step=1, text="Let")
    storage.set_live_output(any_store, run_id=run.id, step=1, text="Let me")
    partial = storage.live_output(any_store, run_id=run.id)
    assert (partial.step, partial.text) == (1, "Let me")
    storage.set_live_output(any_store, run_id=run.id, step=2, text="x" * (MAX_LIVE_CHARS + 5))
    assert storage.live_output(any_store, run_id=run.id).text == "x" * MAX_LIVE_CHARS
    storage.clear_live_output(any_store, run_id=run.id)
    storage.clear_live_output(any_store, run_id=run.id)  # nothing left: still fine
    assert storage.live_output(any_store, run_id=run.id) is None


def test_the_port_writes_only_changes_at_most_every_interval(store, monkeypatch):
    run = storage.create_run(store, goal="g")
    port = StoreRunPort(store, run.id)
    writes: list[str] = []
    real = storage.set_live_output
    monkeypatch.setattr(
        storage, "set_live_output", lambda s, **kw: (writes.append(kw["text"]), real(s, **kw))
    )
    port.end_partial()  # nothing written yet: no write to clear it either
    monkeypatch.setattr(port_module, "PARTIAL_EVERY_S", 3600.0)
    port.partial(1, "")  # nothing streamed yet
    port.partial(1, "Let")
    port.partial(1, "Let me")  # too soon after the first: skipped
    assert writes == ["Let"]
    monkeypatch.setattr(port_module, "PARTIAL_EVERY_S", 0.0)
    port.partial(1, "Let me")
    port.partial(1, "Let me")  # unchanged: skipped
    assert writes == ["Let", "Let me"]
    port.end_partial()
    assert storage.live_output(store, run_id=run.id) is None


# -- the providers' on_delta -------------------------------------------------------------------


def test_the_openai_stream_hands_out_text_and_tool_call_pieces(fake_openai):
    calls = [{"name": "calculator", "arguments": ARGS}]
    # A slow stream: in flight long enough for several previews.
    fake_openai.script([Reply(text=TEXT, tool_calls=calls, chunk_delay_s=0.1)])
    model = OpenAIModel("gpt-4o-mini", api_key="sk-test", base_url=fake_openai.base_url)
    pieces: list[str] = []
    threads: set[str] = set()

    def on_delta(piece: str) -> None:
        pieces.append(piece)
        threads.add(threading.current_thread().name)

    turn = model.complete([], [], cancel=threading.Event(), on_delta=on_delta)
    model.close()
    # Buffered on the model I/O loop and handed out in the caller's own thread while the call
    # is in flight (every PREVIEW_EVERY_S): what streamed so far, in order.
    assert len(pieces) >= 2
    assert f"{TEXT}\n→ calculator({json.dumps(ARGS)}".startswith("".join(pieces))
    assert threads == {threading.current_thread().name}
    assert turn.text == TEXT and turn.tool_calls[0].arguments == json.dumps(ARGS)


def test_the_demo_model_streams_its_turn_word_by_word():
    pieces: list[str] = []
    messages = [{"role": "user", "content": "What is 17.5% of 2,340, plus 118?"}]
    tools = [t.spec() for t in builtin_tools().values()]
    turn = DemoModel(delay_s=0).complete(
        messages, tools, cancel=threading.Event(), on_delta=pieces.append
    )
    call = turn.tool_calls[0]
    assert len(pieces) > 3
    assert "".join(pieces) == f"{turn.text}\n→ {call.name}({call.arguments}"


# -- a run: growing while in flight, gone after --------------------------------------------------


def _openai_driver(store, fake_openai, goal="What is 6 * 7?"):
    model = OpenAIModel("gpt-4o-mini", api_key="sk-test", base_url=fake_openai.base_url)
    run = new_run(store, goal)
    return Driver(store, run, model).start(), model


def test_a_slow_stream_grows_in_the_store_and_ends_as_one_event(store, fake_openai):
    # Chunks: 0 the role, 1-5 the text in 4-character pieces, 6 the call's name, 7- its arguments.
    fake_openai.script(
        [
            Reply(
                text=TEXT,
                tool_calls=[{"name": "calculator", "arguments": ARGS}],
                hold_at=(3, 9),
            ),
            "6 * 7 is 42.",
        ]
    )
    driver, model = _openai_driver(store, fake_openai)
    wait_for(lambda: live_text(store, driver.run_id) == TEXT[:8], what="the first pieces")
    assert storage.live_output(store, run_id=driver.run_id).step == 1
    fake_openai.proceed()
    grown = f"{TEXT}\n→ calculator({json.dumps(ARGS)[:8]}"
    wait_for(lambda: live_text(store, driver.run_id) == grown, what="the text and a call")
    assert not events_of(store, driver.run_id, "model_call")  # nothing recorded yet
    fake_openai.proceed()
    assert driver.join().status == "succeeded"
    model.close()
    assert storage.live_output(store, run_id=driver.run_id) is None
    first, second = events_of(store, driver.run_id, "model_call")
    assert first.payload["text"] == TEXT
    assert first.payload["tool_calls"][0]["arguments"] == json.dumps(ARGS)
    assert second.payload["text"] == "6 * 7 is 42."


def test_a_halt_mid_stream_clears_the_partial_output(store, fake_openai):
    fake_openai.script([Reply(text=TEXT, hold_at=(3,))])
    driver, model = _openai_driver(store, fake_openai)
    wait_for(lambda: live_text(store, driver.run_id), what="partial output")
    storage.send_command(store, run_id=driver.run_id, kind="halt", created_by="ada")
    assert driver.join().status == "halted"
    model.close()
    assert storage.live_output(store, run_id=driver.run_id) is None
    assert not events_of(store, driver.run_id, "model_call")


def test_a_new_session_clears_what_a_crashed_one_left(store):
    run = new_run(store, "What is g?")
    storage.set_live_output(store, run_id=run.id, step=1, text="half an answ")
    driver = Driver(store, run, ScriptedModel(["done"])).start()
    assert driver.join().status == "succeeded"
    assert storage.live_output(store, run_id=run.id) is None


# -- the CLI's live line -----------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_live_line_is_the_flattened_tail_that_fits_one_line():
    assert live_line("Let me\n  look.", 80) == "  … Let me look."
    long = live_line("word " * 100, 40)
    assert len(long) == 39 and long.startswith("  … …") and long.endswith("word")
    # Terminal escapes and bidirectional controls cannot reach the terminal.
    assert live_line("a\x1b[2Jb\u202ec\rd", 80) == "  … a\\x1b[2Jb<U+202E>c\\x0dd"


def test_the_live_line_redraws_throttled_and_erases_before_other_output():
    now = [100.0]
    terminal = FakeTerminal()
    line = LiveLine(terminal, clock=lambda: now[0])
    line.show("Let")
    line.show("Let me")  # within the same quarter second: not redrawn
    assert terminal.getvalue() == CLEAR + "  … Let"
    now[0] += 1
    line.show("Let me")
    assert terminal.getvalue().endswith(CLEAR + "  … Let me")
    line.clear()
    assert terminal.getvalue().endswith(CLEAR) and line.drawn == ""
    piped = io.StringIO()
    LiveLine(piped).show("Let me")  # not a terminal: no live line at all
    assert piped.getvalue() == ""


def test_the_follower_shows_the_streaming_turn_until_its_step_is_recorded(store):
    run = storage.create_run(store, goal="g")
    terminal, printed = FakeTerminal(), []
    follower = _Follower(store, run.id, yes=True, out=printed.append, live=LiveLine(terminal))
    storage.set_live_output(store, run_id=run.id, step=1, text="Let me look")
    follower.show_partial()
    assert terminal.getvalue().endswith("  … Let me look")
    storage.append_event(
        store, run_id=run.id, kind="model_call", payload={"step": 1, "text": "Let me look."}
    )
    follower.drain()
    assert terminal.getvalue().endswith(CLEAR)  # erased before the step's own line
    assert printed[-1].startswith("[step 1] Let me look.")
    follower.show_partial()  # the row has not gone yet, but its step is printed: not shown again
    assert terminal.getvalue().endswith(CLEAR)


# -- the Run page ------------------------------------------------------------------------------


@pytest.fixture
def page_store(tmp_path, monkeypatch):
    yield from open_store(tmp_path, monkeypatch)


def live_texts(at) -> list[str]:
    return [t.value for t in at.text if t.value.startswith("Reading")]


def test_the_run_page_shows_the_streaming_turn_under_the_steps(page_store):
    run = make_run(page_store, "running")  # two steps recorded
    storage.set_live_output(page_store, run_id=run.id, step=3, text="Reading plan.md <b>now</b>")
    at = app_at(RUN_PAGE, query={"run": run.id})
    assert not at.exception
    assert live_texts(at) == ["Reading plan.md <b>now</b>"]  # as text, never as HTML
    assert any("step 3 · the model is answering" in c.value for c in at.caption)
    storage.set_live_output(page_store, run_id=run.id, step=3, text="Reading plan.md now, then")
    at.run()
    assert live_texts(at) == ["Reading plan.md now, then"]
    storage.set_live_output(page_store, run_id=run.id, step=2, text="Reading an old turn")
    at.run()
    assert live_texts(at) == []  # step 2 is recorded already


def test_a_run_that_is_not_running_shows_no_live_tail(page_store):
    run = make_run(page_store, "paused")
    storage.set_live_output(page_store, run_id=run.id, step=3, text="Reading a stale turn")
    at = app_at(RUN_PAGE, query={"run": run.id})
    assert not at.exception and live_texts(at) == []


def test_onloop_run_on_a_terminal_shows_the_turn_as_it_streams(tmp_path, fake_openai):
    """The real command with its stderr on a pseudo-terminal: the live line appears while the
    stream is held, and the step's own line follows once it is let go."""
    fake_openai.script([Reply(text=TEXT, hold_at=(3,))])
    main, secondary = pty.openpty()
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "COLUMNS": "80",
    }
    env.pop("ONLOOP_DATABASE_URL", None)
    command = [sys.executable, "-m", "agent_core", "run", "What is 6 * 7?", "--model", "openai"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=secondary, text=True,
    )  # fmt: skip
    os.close(secondary)
    try:
        seen = _read_until(main, f"{CLEAR}  … {TEXT[:8]}")
        assert "\n" not in seen.split(CLEAR)[-1]  # one line, redrawn in place
        fake_openai.proceed()
        stdout, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        os.close(main)
    assert process.returncode == 0
    assert f"[step 1] {TEXT}" in stdout and "succeeded" in stdout


def _read_until(fd: int, wanted: str, timeout: float = 60.0) -> str:
    seen = ""
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], timeout)
        try:
            data = os.read(fd, 4096) if ready else b""
        except OSError:  # the command ended and closed the terminal
            data = b""
        assert data, f"no {wanted!r} on the terminal; it showed {seen!r}"
        seen += data.decode("utf-8", "replace")
    return seen
