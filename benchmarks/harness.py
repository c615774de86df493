"""Shared parts of the side-by-side benchmarks: the chat server's process, onloop's workers and
store, and /proc readings. Only public entry points of onloop are used: the CLI
(`python -m agent_core worker`) and storage's functions."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runnable without installing; this checkout wins

BENCH_GOAL = "Add up the numbers with the calculator, one call at a time, then finish."
BENCH_EXTRA_HINT = "not installed: pip install -e '.[bench]'"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this checkout first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


class ChatServer:
    """benchmarks/chat_server.py in its own process; `base_url` once started."""

    def __init__(self, latency_ms: float = 0.0, steps: int = 20) -> None:
        self.latency_ms = latency_ms
        self.steps = steps
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> ChatServer:
        cmd = [sys.executable, str(HERE / "chat_server.py"), "--latency-ms", str(self.latency_ms)]
        cmd += ["--steps", str(self.steps)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=child_env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening "):
            self.__exit__()
            raise RuntimeError(f"the chat server did not start: {line!r}")
        self.base_url = line.split(" ", 1)[1]
        return self

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.base_url}/stats", timeout=10) as response:
            return json.loads(response.read())

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def model_name(steps: int, latency_ms: float) -> str:
    """The chat server's per-request options, carried in the model's name."""
    return f"bench-s{steps}-l{int(latency_ms)}"


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS (kB) and Threads of a process, from /proc/<pid>/status (0 when it is gone)."""
    found = {"VmRSS": 0, "Threads": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in found:
                found[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return found


def children_of(pid: int) -> list[int]:
    """Every descendant of a process (for `worker --processes N`, which may fork its own)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return found


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


# --- onloop -------------------------------------------------------------------------------------


def bench_policy_file(folder: Path) -> Path:
    """The default policy without the final goal check and the progress judge (no peer makes
    those extra calls, and the chat server answers only the goal check)."""
    from agent_core.oversight.policy_file import default_policy_text

    text = default_policy_text()
    for setting, off in (
        ("final_check = true", "final_check = false"),
        ("judge_every = 5", "judge_every = 0"),
    ):
        if setting not in text:
            raise RuntimeError(f"the default policy no longer sets {setting}; update harness")
        text = text.replace(setting, off, 1)
    path = folder / "bench-policy.toml"
    path.write_text(text)
    return path


@dataclass
class RunTimes:
    run_id: str
    status: str
    claimed: datetime | None  # Run.started_at: when the worker claimed it
    finished: datetime | None
    created: datetime
    loop_started: datetime | None  # the run_started event
    loop_ended: datetime | None  # the final_answer event


class OnloopBench:
    """A store in a temp folder, workers on it (`python -m agent_core worker`), runs put in it."""

    def __init__(
        self,
        base_url: str,
        *,
        db_url: str | None = None,
        folder: Path | None = None,
        synchronous: str | None = None,
    ):
        import storage
        from agent_core.oversight.policy_file import load_policy

        self._tmp = None if folder else tempfile.TemporaryDirectory(prefix="onloop-bench-")
        self.folder = folder or Path(self._tmp.name)  # type: ignore[union-attr]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db = db_url or str(self.folder / "onloop.db")
        self.policy_path = bench_policy_file(self.folder)
        self.policy = load_policy(self.policy_path).model_dump(mode="json")
        self.base_url = base_url
        self.synchronous = synchronous  # the workers' ONLOOP_SQLITE_SYNCHRONOUS, if given
        self.store = storage.open_store(storage.database_url(self.db))
        self.workers: list[subprocess.Popen] = []

    def start_workers(
        self, processes: int = 1, concurrency: int = 2, *, processes_flag: bool = False
    ) -> None:
        cmd = [sys.executable, "-m", "agent_core", "worker", "--concurrency", str(concurrency)]
        cmd += ["--db", self.db, "--policy", str(self.policy_path)]
        env = child_env(
            OPENAI_BASE_URL=self.base_url,
            OPENAI_API_KEY="bench",
            ONLOOP_WORKSPACES=str(self.folder / "workspaces"),
        )
        if self.synchronous is not None:
            env["ONLOOP_SQLITE_SYNCHRONOUS"] = self.synchronous
        log = open(self.folder / "workers.log", "a")  # noqa: SIM115 (closed with the folder)
        if processes_flag:
            self.workers.append(
                subprocess.Popen(
                    cmd + ["--processes", str(processes)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.folder,
                )
            )
            return
        for _ in range(processes):
            self.workers.append(
                subprocess.Popen(
                    cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
                )
            )

    def worker_pids(self) -> list[int]:
        pids = [w.pid for w in self.workers if w.poll() is None]
        return pids + [kid for pid in pids for kid in children_of(pid)]

    def check_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is not None:
                tail = (self.folder / "workers.log").read_text()[-2000:]
                raise RuntimeError(f"a worker exited ({worker.returncode}):\n{tail}")

    def create_runs(self, count: int, steps: int, latency_ms: float = 0.0) -> list[str]:
        import storage

        ids = []
        for _ in range(count):
            run = storage.create_run(
                self.store,
                goal=BENCH_GOAL,
                model="openai",
                model_name=model_name(steps, latency_ms),
                autonomy="autonomous",
                tools=["calculator"],
                max_steps=steps + 5,
                max_seconds=3600,
                policy=self.policy,
                created_by="bench",
            )
            ids.append(run.id)
        return ids

    def wait(self, run_ids: Sequence[str], timeout_s: float = 600.0, poll_s: float = 0.05) -> None:
        import storage
        from storage.vocabulary import FINISHED_STATUSES

        deadline = time.monotonic() + timeout_s
        left = list(run_ids)
        while left:
            statuses = storage.run_statuses(self.store, run_ids=left)
            left = [i for i in left if statuses.get(i) not in FINISHED_STATUSES]
            if not left:
                return
            self.check_workers()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(left)} runs not finished after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def times(self, run_id: str) -> RunTimes:
        import storage

        run = storage.get_run(self.store, run_id=run_id)
        events = storage.events_after(self.store, run_id=run_id)
        started = next((e.at for e in events if e.kind == "run_started"), None)
        ended = next((e.at for e in reversed(events) if e.kind == "final_answer"), None)
        return RunTimes(
            run_id,
            run.status,
            run.started_at,
            run.finished_at,
            run.created_at,
            started,
            ended,
        )

    def wait_idle_ready(self, steps: int = 2, runs: int | None = None) -> None:
        """Warm the workers up: one short run per worker process, each finished (one calculator
        call, then finish: a finish with no work at all ends `unmet` for this goal)."""
        ids = self.create_runs(runs or max(1, len(self.workers)), steps)
        self.wait(ids, timeout_s=300)
        bad = [t for t in (self.times(i) for i in ids) if t.status != "succeeded"]
        if bad:
            raise RuntimeError(
                f"warm-up run {bad[0].run_id} ended {bad[0].status}; {self.why(bad[0])}"
            )

    def why(self, times: RunTimes) -> str:
        import storage

        return f"reason: {storage.get_run(self.store, run_id=times.run_id).reason!r}"

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)
        for worker in self.workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.workers = []

    def close(self) -> None:
        self.stop_workers()
        self.store.dispose()
        if self._tmp:
            self._tmp.cleanup()


@contextmanager
def onloop_bench(base_url: str, **kwargs):
    bench = OnloopBench(base_url, **kwargs)
    try:
        yield bench
    finally:
        bench.close()


def utc_now() -> datetime:
    """Naive UTC, as the store's timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


def seconds(later: datetime | None, earlier: datetime | None) -> float:
    if later is None or earlier is None:
        return float("nan")
    return (later - earlier).total_seconds()


def log_path(name: str) -> Path:
    folder = HERE / "logs"
    folder.mkdir(exist_ok=True)
    return folder / name


class Tee:
    """print() to the screen and to a log file."""

    def __init__(self, path: Path | None) -> None:
        self.file = open(path, "w") if path else None  # noqa: SIM115

    def __call__(self, *parts: object) -> None:
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        if self.file:
            self.file.write(line + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


@contextmanager
def throwaway_postgres():
    """A throwaway PostgreSQL server on this machine (tests/support/postgres_server.py), stopped
    on exit; SystemExit naming the package to install when its binaries are missing."""
    from tests.support.postgres_server import (
        INSTALL_HINT,
        server_binaries,
        start_server,
        stop_server,
    )

    if server_binaries() is None:
        raise SystemExit(f"PostgreSQL: {INSTALL_HINT}")
    pg, root = start_server()
    try:
        yield pg
    finally:
        stop_server(pg, root)
