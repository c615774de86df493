"""What the shell's sandbox costs, and how fast a halt ends a running command.

Run from the repo root: `python benchmarks/sandbox.py [--calls 50] [--halts 20]`.
Prints the median and p95 of one `true` through run_command in the sandbox, the same through
run_command unconfined and through a plain subprocess, and the sandbox's added cost per call
(aim <= 50 ms); then, over real runs in a store, the time from a halt being recorded to the
running command's processes being gone (aim: p95 <= 1 s).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing

import storage  # noqa: E402
from agent_core.models.scripted import ScriptedModel  # noqa: E402
from agent_core.oversight.policy import Policy, Rule  # noqa: E402
from agent_core.tools.sandbox import sandbox_status  # noqa: E402
from agent_core.tools.shell import run_command  # noqa: E402
from agent_core.worker.claim_loop import drive_run  # noqa: E402


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def shell_costs(calls: int, folder: Path) -> dict[str, list[float]]:
    """Seconds per call of each way to run `true`, taking turns so none gets a quieter machine."""
    ways = {
        "sandboxed": lambda: run_command("true", cwd=folder, timeout_s=30),
        "unconfined": lambda: run_command("true", cwd=folder, timeout_s=30, confined=False),
        "plain subprocess": lambda: subprocess.run(["/bin/sh", "-c", "true"], cwd=folder),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(calls):
        for name, call in ways.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return times


def _running(marker: str) -> bool:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    return True
        except (OSError, IndexError):
            continue
    return False


def _until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark step timed out")
        time.sleep(0.002)


def halt_to_gone(store: storage.Store) -> float:
    """One run whose command sleeps; seconds from the halt's commit to its processes' end."""
    marker = f"30.{uuid.uuid4().int % 10**9:09d}"
    policy = Policy(rules=[Rule(tool="run_shell", action="allow")])
    run = storage.create_run(
        store, goal="sleep", model="scripted", autonomy="autonomous", policy=policy.model_dump()
    )
    claimed = storage.claim_run(store, run_id=run.id, worker_id="bench", lease_seconds=60)
    model = ScriptedModel(
        [{"tool_calls": [{"name": "run_shell", "arguments": {"command": f"sleep {marker}"}}]}]
    )
    thread = threading.Thread(
        target=drive_run, args=(store, claimed), kwargs={"model_factory": lambda r: model}
    )
    thread.start()
    _until(lambda: _running(marker))
    storage.send_command(store, run_id=run.id, kind="halt", created_by="bench")
    halted = time.perf_counter()
    _until(lambda: not _running(marker))
    gone = time.perf_counter() - halted
    thread.join(30)
    assert storage.get_run(store, run_id=run.id).status == "halted"
    return gone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--halts", type=int, default=20)
    args = parser.parse_args()
    status = sandbox_status()
    if not status.available:
        raise SystemExit(f"the sandbox cannot start here: {status.reason}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        times = shell_costs(args.calls, folder)
        print(f"one `true`, {args.calls} calls each (ms):  median   p95")
        for name, values in times.items():
            print(
                f"  {name:<18}                {1000 * statistics.median(values):7.1f} "
                f"{1000 * p95(values):6.1f}"
            )
        added = [s - p for s, p in zip(times["sandboxed"], times["plain subprocess"], strict=True)]
        print(
            f"  sandbox's added cost per call      {1000 * statistics.median(added):7.1f} "
            f"{1000 * p95(added):6.1f}   (aim <= 50 ms)"
        )
        store = storage.open_store(f"sqlite:///{folder / 'onloop.db'}")
        gone = [halt_to_gone(store) for _ in range(args.halts)]
        store.dispose()
    print(
        f"halt -> command's processes gone, {args.halts} halts (ms): "
        f"median {1000 * statistics.median(gone):.0f}, p95 {1000 * p95(gone):.0f}, "
        f"max {1000 * max(gone):.0f}   (aim p95 <= 1000 ms)"
    )


if __name__ == "__main__":
    main()
