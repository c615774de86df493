"""The worker's hot path: SQL per model step, threads and memory per waiting run, calls/s.

Run from the repo root: `python benchmarks/hot_path.py [--runs 100] [--steps 20]`.
`--code DIR` measures another checkout's code with the same script (e.g. an export of an older
commit: `git archive <commit> | tar -x -C /tmp/before`), for before/after figures.

It prints:
- SQL statements and worker CPU per model step of one run (every statement SQLite executes, BEGIN and COMMIT
  included, counted by sqlite3's trace hook; the process's halt watcher's polls apart, since
  they come per 0.1 s, not per step), for a run of `--steps` model calls each with one tool call;
- threads alive in the worker process, and RSS per run, with `--runs` runs waiting at once on a
  slow server (`--concurrency` = runs);
- model calls per second of one worker with a zero-latency server (`--runs` runs x 5 calls).
The model server is a minimal OpenAI-compatible SSE server in a child process, so its threads
and memory are not the worker's.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WATCHER = "onloop-halt-watch"


# -- the model server (child process) ------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay_s = 0.0
    calls = 5  # model calls per run: calls - 1 tool calls, then a final answer

    def log_message(self, *args) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # As real servers do (uvicorn, llama.cpp): no Nagle delay between headers and body.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.delay_s:
            time.sleep(self.delay_s)
        tools_done = sum(1 for m in body["messages"] if m.get("role") == "tool")
        if tools_done < self.calls - 1:
            call = {
                "index": 0,
                "id": f"c{tools_done}",
                "type": "function",
                "function": {
                    "name": "calculator",
                    "arguments": json.dumps({"expression": f"{tools_done}+1"}),
                },
            }
            delta, finish = {"role": "assistant", "tool_calls": [call]}, "tool_calls"
        else:
            delta, finish = {"role": "assistant", "content": "All done."}, "stop"
        chunks = [
            {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
            {
                "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        ]
        data = (
            b"".join(
                b"data: "
                + json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": "bench",
                        **c,
                    }
                ).encode()
                + b"\n\n"
                for c in chunks
            )
            + b"data: [DONE]\n\n"
        )
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(port_file: str, delay_s: float, calls: int) -> None:
    _Handler.delay_s, _Handler.calls = delay_s, calls
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    Path(port_file).write_text(str(httpd.server_address[1]))
    httpd.serve_forever()


class Server:
    def __init__(self, delay_s: float, calls: int = 5) -> None:
        self.port_file = tempfile.mktemp()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", self.port_file, str(delay_s), str(calls)]
        )
        while not (Path(self.port_file).exists() and Path(self.port_file).read_text()):
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{Path(self.port_file).read_text()}/v1"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


# -- the worker side -------------------------------------------------------------------------------
def _setup(code: str | None):
    sys.path.insert(0, code or str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("ONLOOP_WORKSPACES", tempfile.mkdtemp())


def _store(tmp: str):
    import storage

    return storage.open_store(f"sqlite:///{tmp}/bench.db")


def _model_factory(base_url: str):
    from agent_core.models.openai_model import OpenAIModel

    return lambda run: OpenAIModel("bench", api_key="k", base_url=base_url, max_retries=0)


def _new_run(store, goal: str, max_steps: int = 100):
    import storage
    from agent_core.oversight.monitor_settings import MonitorSettings
    from agent_core.oversight.policy import Policy

    # No progress judge: its calls are not steps, and this server cannot answer them.
    policy = Policy(monitors=MonitorSettings(judge_every=0))
    return storage.create_run(
        store,
        goal=goal,
        model="openai",
        autonomy="autonomous",
        max_steps=max_steps,
        policy=policy.model_dump(mode="json"),
    )


def statements_per_step(steps: int) -> dict:
    """Drive one run of `steps` model calls (each with a tool call) and count SQL by thread."""
    from sqlalchemy import event

    import storage
    from agent_core.worker.claim_loop import drive_run

    server = Server(0.0, calls=steps)
    tmp = tempfile.mkdtemp()
    store = _store(tmp)
    counts: Counter[str] = Counter()

    def traced(dbapi_connection, _record) -> None:
        def count(_statement: str) -> None:
            name = threading.current_thread().name
            counts["watcher" if name == WATCHER else "run"] += 1

        dbapi_connection.set_trace_callback(count)

    event.listen(store.engine, "connect", traced)
    store.engine.dispose()  # new connections get the hook
    try:
        for goal in ("warm up: imports, the client, the store", "count the statements"):
            run = _new_run(store, goal)
            claimed = storage.claim_run(store, run_id=run.id, worker_id="bench", lease_seconds=60)
            counts.clear()
            cpu = time.process_time()
            outcome = drive_run(store, claimed, model_factory=_model_factory(server.base_url))
            cpu = time.process_time() - cpu
            assert outcome.status == "succeeded", outcome
    finally:
        server.close()
    events = storage.events_after(store, run_id=run.id)
    first = next(e.at for e in events if e.kind == "model_request")
    last = next(e.at for e in events if e.kind == "final_answer")
    return {
        "model_steps": steps,
        "statements_per_step": round(counts["run"] / steps, 1),
        "watcher_statements_total": counts["watcher"],
        "ms_per_step": round((last - first).total_seconds() / steps * 1000, 2),
        # CPU of the whole worker process (all its threads) per step: less noisy than wall time
        # on a shared machine. Includes the run's start (tools, workspace): about 15 ms.
        "cpu_ms_per_step": round(cpu / steps * 1000, 2),
    }


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _serve(worker) -> threading.Thread:
    thread = threading.Thread(target=worker.serve, name="bench-worker", daemon=True)
    thread.start()
    return thread


def waiting_runs(runs: int) -> dict:
    """`runs` runs waiting at once on a server that answers after 30 s: threads and RSS."""
    import storage
    from agent_core.worker.claim_loop import Worker

    server = Server(30.0)
    tmp = tempfile.mkdtemp()
    store = _store(tmp)
    ids = [_new_run(store, f"wait {n}").id for n in range(runs)]
    # Warm up imports, the client and the store before the baseline.
    warm = Worker(store, concurrency=1, poll_s=0.05, model_factory=_model_factory(server.base_url))
    idle_threads, idle_rss = threading.active_count(), _rss_kb()
    worker = Worker(
        store, concurrency=runs, poll_s=0.05, model_factory=_model_factory(server.base_url)
    )
    thread = _serve(worker)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            started = sum(
                1
                for i in ids
                if any(e.kind == "model_request" for e in storage.last_events(store, run_id=i, n=3))
            )
            if started == runs:
                break
            time.sleep(0.5)
        time.sleep(1.0)
        threads, rss = threading.active_count(), _rss_kb()
        names = Counter(t.name.split("-")[0] for t in threading.enumerate())
    finally:
        worker.stop.set()
        thread.join(30)
        server.close()
    del warm
    return {
        "runs_waiting": runs,
        "threads_alive": threads,
        "threads_before": idle_threads,
        "threads_per_run": round((threads - idle_threads) / runs, 2),
        "thread_kinds": dict(names.most_common(6)),
        "rss_mb_per_waiting_run": round((rss - idle_rss) / 1024 / runs, 3),
    }


def calls_per_second(runs: int, concurrency: int) -> dict:
    """`runs` runs x 5 model calls against a zero-latency server, one worker: model calls/s."""
    import storage
    from agent_core.worker.claim_loop import Worker

    server = Server(0.0)
    tmp = tempfile.mkdtemp()
    store = _store(tmp)
    ids = [_new_run(store, f"go {n}").id for n in range(runs)]
    worker = Worker(
        store, concurrency=concurrency, poll_s=0.01, model_factory=_model_factory(server.base_url)
    )
    started = time.perf_counter()
    thread = _serve(worker)
    try:
        while True:
            statuses = storage.run_statuses(store, run_ids=ids)
            if all(
                s in ("succeeded", "failed", "halted", "paused", "unmet") for s in statuses.values()
            ):
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
    finally:
        worker.stop.set()
        thread.join(30)
        server.close()
    done = Counter(storage.run_statuses(store, run_ids=ids).values())
    calls = sum(storage.get_run(store, run_id=i).steps for i in ids)
    return {
        "runs": runs,
        "concurrency": concurrency,
        "statuses": dict(done),
        "model_calls": calls,
        "seconds": round(wall, 2),
        "model_calls_per_s": round(calls / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--code", help="the checkout whose agent_core and storage to measure")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16, help="for the calls/s figure")
    parser.add_argument("--only", choices=("sql", "threads", "throughput"))
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], float(args.serve[1]), int(args.serve[2]))
        return
    _setup(args.code)
    import logging

    logging.disable(logging.WARNING)
    results: dict = {"code": args.code or "this checkout"}
    if args.only in (None, "sql"):
        results["sql"] = statements_per_step(args.steps)
    if args.only in (None, "threads"):
        results["waiting"] = waiting_runs(args.runs)
    if args.only in (None, "throughput"):
        results["throughput"] = calls_per_second(args.runs, args.concurrency)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
