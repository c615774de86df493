"""A worker cut off from its store (its link to PostgreSQL fails; the dashboard still reaches the
store) while a run's tool works: the halt cannot reach that worker, and once the lease lapses the
store says the run is halted. The worker must have cut the tool by then, by itself: it stops a
run whose lease it could not renew before that lease lapses (agent_core/worker/leases.py).
Gates are files the tool writes; bounds are hang guards."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.policy import Policy, Rule
from agent_core.worker.claim_loop import Worker
from tests.support.halt_helpers import serve, stop
from tests.support.run_helpers import events_of, new_run, wait_for
from tests.support.tcp_cut import CuttableRelay, cuttable_relay

MODULE = "onloop_cut_off_tools"
TOOLS = '''
    import subprocess
    import time
    from pathlib import Path

    from onloop import ToolContext, tool


    @tool(risk="low")
    def keep_writing(path: str, tool_context: ToolContext | None = None) -> str:
        """Writes to `path` until stopped, then notes that it stopped.

        Args:
            path: The file to keep writing.
        """
        assert tool_context is not None
        target = Path(path)
        while not tool_context.stopped:
            target.write_text(str(time.monotonic()))
            tool_context.wait(0.05)
        Path(path + ".stopped").write_text("stopped")
        return "stopped"


    @tool(risk="low")
    def start_and_wait(path: str) -> str:
        """Starts a long process, notes its pid in `path` and waits for it, never looking at a
        halt.

        Args:
            path: Where the pid goes.
        """
        process = subprocess.Popen(["sleep", "1000"])
        Path(path).write_text(str(process.pid))
        process.wait()
        return "it ended"
'''
PATIENCE_S = 60.0
LEASE_S = 4.0


@pytest.fixture
def cut_off_tools(tmp_path, monkeypatch):
    folder = tmp_path / "module"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(TOOLS))
    monkeypatch.syspath_prepend(str(folder))
    yield MODULE
    sys.modules.pop(MODULE, None)


def _alive(pid: int) -> bool:
    """A live process (not a zombie waiting for its parent to collect it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@contextmanager
def cut_off_worker(store, postgres_url: str, tool: str, path: Path) -> Iterator[CuttableRelay]:
    """A worker whose link to the store goes through a relay drives a run of `tool`; inside,
    the tool has begun (it wrote `path`). On leaving, the link is restored and the worker stops."""
    url = make_url(postgres_url)
    with cuttable_relay(url.host or "127.0.0.1", url.port or 5432) as relay:
        relayed = storage.open_store(url.set(port=relay.port).render_as_string(False))
        policy = Policy(tools=[MODULE], rules=[Rule(tool="*", action="allow")])
        run = new_run(store, "keep at it", model="scripted", autonomy="autonomous", policy=policy)
        script = [{"tool_calls": [{"name": tool, "arguments": {"path": str(path)}}]}, "done"]
        worker = Worker(
            relayed,
            concurrency=1,
            poll_s=0.05,
            lease_seconds=LEASE_S,
            model_factory=lambda run: ScriptedModel(list(script)),
        )
        threads = serve([worker])
        try:
            wait_for(lambda: events_of(store, run.id, "tool_started"), PATIENCE_S, "the tool")
            wait_for(path.exists, PATIENCE_S, "the tool to write")
            relay.cut()
            control.halt(store, run_id=run.id, by="ann")  # from the dashboard's side
            wait_for(
                lambda: (
                    storage.expire_leases(store) is not None
                    and storage.get_run(store, run_id=run.id).status == "halted"
                ),
                PATIENCE_S,
                "the lapsed lease to end the run halted",
            )
            yield relay
        finally:
            relay.restore()
            stop([worker], threads)
            relayed.dispose()
    assert storage.get_run(store, run_id=run.id).status == "halted"


def _tool_stopped(note: Path) -> bool:
    return Path(f"{note}.stopped").exists()


def _process_ended(note: Path) -> bool:
    return not _alive(int(note.read_text()))


@pytest.mark.parametrize(
    ("tool", "ended"),
    [("keep_writing", _tool_stopped), ("start_and_wait", _process_ended)],
    ids=["a tool that reads the token", "the process of a tool that does not"],
)
def test_a_worker_cut_off_from_its_store_cuts_its_tool_before_the_halt_takes_the_run(
    postgres_url, tmp_path, cut_off_tools, monkeypatch, tool, ended
):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    note = tmp_path / "note.txt"
    store = storage.open_store(postgres_url)
    with cut_off_worker(store, postgres_url, tool, note):
        # The store says halted: the tool ends though its worker still cannot read the store.
        wait_for(lambda: ended(note), PATIENCE_S, "the cut-off worker to cut its tool")
    store.dispose()
