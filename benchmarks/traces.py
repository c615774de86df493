"""What traces cost a run's step: benchmarks/hot_path.py's per-step figure (one run of `--steps`
model calls, each with a tool call) untraced, and traced to a live collector, a dead one and a
5 s-slow one (real sockets on 127.0.0.1; the standard batching: every 5 s or 512 spans). The
CPU counted includes sending what the run queued (a flush after the run, at most 10 s).

The progress judge is off in these runs (hot_path's bare server cannot answer it, and it is not
what is measured). Run from the repo root: `python benchmarks/traces.py [--steps 100]
[--rounds 5]`; `--hooks` measures the hooks' own CPU per step instead. Each round runs
every condition once, in a fresh process, in turn; it prints the median per condition of the
worker's CPU per step (all its threads, the exporter's included: less noisy than wall time on a
shared machine) and wall time per step, the overhead against untraced, and the load average.
Three figures per step: the CPU of the run's own thread (the step's path: creating and ending
spans), the whole process's CPU including the exporter's thread and the final flush, and the
run's wall time (without the flush).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _one(steps: int, endpoint: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(ROOT)
    if endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    command = [sys.executable, __file__, "--one", str(steps)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def one(steps: int) -> None:
    """In a fresh process: one warm-up run, then a run of `steps` model calls (each with a tool
    call) against hot_path's bare server; the worker process's CPU (every thread) for the run
    and for sending what it queued (traced: a flush, bounded to 10 s), per step."""
    import logging
    import tempfile

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import hot_path

    import storage
    from agent_core.oversight.monitor_settings import MonitorSettings
    from agent_core.oversight.policy import Policy
    from agent_core.telemetry import trace_export
    from agent_core.worker.claim_loop import drive_run

    hot_path._setup(None)
    logging.disable(logging.WARNING)
    server = hot_path.Server(0.0, calls=steps)
    store = hot_path._store(tempfile.mkdtemp())
    policy = Policy(monitors=MonitorSettings(judge_every=0)).model_dump(mode="json")
    try:
        for goal in ("warm up: imports, the client, the store", "measure"):
            run = storage.create_run(
                store, goal=goal, model="openai", autonomy="autonomous", max_steps=steps + 5,
                policy=policy,
            )  # fmt: skip
            claimed = storage.claim_run(store, run_id=run.id, worker_id="bench", lease_seconds=60)
            model = hot_path._model_factory(server.base_url)
            trace_export.flush(10)
            cpu, own, wall = time.process_time(), time.thread_time(), time.perf_counter()
            outcome = drive_run(store, claimed, model_factory=model)
            own, wall = time.thread_time() - own, time.perf_counter() - wall
            trace_export.flush(10)
            cpu = time.process_time() - cpu
            assert outcome.status == "succeeded", outcome
    finally:
        server.close()
    per_step = {"run_thread_cpu": own, "process_cpu": cpu, "wall": wall}
    print(json.dumps({name: value / steps * 1000 for name, value in per_step.items()}))


def hooks(rounds: int, steps: int = 300) -> None:
    """The run thread's CPU in the trace hooks of one step (model_request, model_call, tool_call,
    tool_result), counted with thread_time while the exporter sends to a live receiver on its
    own thread: the per-step cost on its own, out of reach of the end-to-end figures' noise."""
    from agent_core.oversight.redact import redactor_for
    from agent_core.telemetry import trace_export
    from agent_core.telemetry.traces import session_trace

    receiver = OtlpReceiver().start()
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    run = argparse.Namespace(
        id="bench", autonomy="supervised", worker_id="w", goal="g", model="openai", model_name="m"
    )
    model = argparse.Namespace(provider="openai", model_name="m", base_url="http://127.0.0.1/v1")
    call = {"tokens_in": 10, "tokens_out": 5, "model_name": "m", "finish_reason": "tool_calls"}
    per_step = []
    for _ in range(rounds):
        trace = session_trace(run, [], model, redactor_for(), resumed=False)
        cpu = time.thread_time()
        for i in range(steps):
            trace.saw("model_request", {"step": i})
            trace.saw("model_call", {"step": i, **call})
            trace.saw(
                "tool_call", {"tool_call_id": f"c{i}", "tool": "read_file", "verdict": "allow"}
            )
            trace.saw("tool_result", {"tool_call_id": f"c{i}", "ok": True, "output": "x"})
        per_step.append((time.thread_time() - cpu) / steps * 1000)
        trace.ended("succeeded", None)
        trace_export.flush(30)
    receiver.stop()
    print(json.dumps({"hooks_run_thread_cpu_ms_per_step": round(statistics.median(per_step), 3),
                      "load average (1 min)": os.getloadavg()[0]}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--hooks", action="store_true", help="only the hooks' own CPU per step")
    args = parser.parse_args()
    if args.hooks:
        hooks(args.rounds)
        return
    if args.one:
        one(args.one)
        return
    live, slow = OtlpReceiver().start(), OtlpReceiver(delay_s=5.0).start()
    conditions = {
        "untraced": None,
        "live collector": live.endpoint,
        "dead collector": f"http://127.0.0.1:{_closed_port()}",
        "5 s-slow collector": slow.endpoint,
    }
    figures: dict[str, list[dict]] = {name: [] for name in conditions}
    loads = []
    try:
        for _ in range(args.rounds):
            for name, endpoint in conditions.items():
                figures[name].append(_one(args.steps, endpoint))
                loads.append(os.getloadavg()[0])
    finally:
        live.stop()
        slow.stop()
    results: dict = {}
    for name, runs in figures.items():
        results[name] = {}
        for figure in ("run_thread_cpu", "process_cpu", "wall"):
            value = statistics.median(f[figure] for f in runs)
            base = statistics.median(f[figure] for f in figures["untraced"])
            results[name][f"{figure}_ms_per_step"] = round(value, 3)
            results[name][f"{figure}_overhead_pct"] = round((value - base) / base * 100, 1)
    results["spans received by the live collector"] = len(live.spans)
    results["load average (1 min) during, min/max"] = [min(loads), max(loads)]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
