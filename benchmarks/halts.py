"""What holding halts costs, and how fast a halt stops an in-flight model call.

Run from the repo root: `python benchmarks/halts.py [--polls 2000] [--halts 20]`.
Prints the median cost of one halt poll (storage.halt_pending, one indexed read) against the
check it replaced (reading every pending command), the median cost of begin_step (the halt
check and the step's event in one write transaction) against a plain append_event, and halt ->
run ended `halted` for a model call in flight against the local fake Chat Completions server
(p50 / p95; aim p95 <= 0.5 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing

import storage  # noqa: E402
from agent_core.models.openai_model import OpenAIModel  # noqa: E402
from agent_core.oversight import control  # noqa: E402
from agent_core.worker.claim_loop import Worker  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer, Reply  # noqa: E402


def median_us(action, count: int) -> float:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def poll_costs(store: storage.Store, polls: int) -> None:
    run = storage.create_run(store, goal="poll me")
    for n in range(5):  # a few pending commands of other kinds, as a busy run has
        storage.send_command(store, run_id=run.id, kind="guidance", payload={"message": f"{n}"})
    new = median_us(lambda: storage.halt_pending(store, run_id=run.id), polls)
    old = median_us(
        lambda: any(c.kind == "halt" for c in storage.pending_commands(store, run_id=run.id)),
        polls,
    )
    print(f"halt poll: {new:.0f} us (halt_pending) vs {old:.0f} us (pending_commands)")
    storage.claim_run(store, run_id=run.id, worker_id="bench", lease_seconds=60)
    step = median_us(
        lambda: storage.begin_step(store, run_id=run.id, kind="model_request", payload={}),
        polls // 4,
    )
    plain = median_us(
        lambda: storage.append_event(store, run_id=run.id, kind="model_request", payload={}),
        polls // 4,
    )
    print(f"begin_step: {step:.0f} us vs append_event {plain:.0f} us")


def halt_latency(store: storage.Store, halts: int) -> None:
    server = FakeOpenAIServer().start()
    server.script([Reply(text="slow", delay_s=30) for _ in range(halts)])

    def model(run):
        return OpenAIModel("fake-model", api_key="k", base_url=server.base_url, max_retries=0)

    worker = Worker(store, concurrency=2, poll_s=0.01, model_factory=model)
    serving = threading.Thread(target=worker.serve, daemon=True)
    serving.start()
    took = []
    try:
        for _ in range(halts):
            run = storage.create_run(store, goal="think slowly", model="openai")
            arrived = len(server.requests) + 1
            while len(server.requests) < arrived:
                time.sleep(0.005)
            started = time.perf_counter()
            control.halt(store, run_id=run.id, by="bench")
            while storage.get_run(store, run_id=run.id).status != "halted":
                time.sleep(0.002)
            took.append(time.perf_counter() - started)
    finally:
        worker.stop.set()
        serving.join(20)
        server.stop()
    p95 = statistics.quantiles(took, n=20)[-1] if len(took) >= 2 else took[0]
    print(
        f"halt -> halted with a model call in flight: p50 {statistics.median(took) * 1e3:.0f} "
        f"ms, p95 {p95 * 1e3:.0f} ms over {len(took)} halts (aim p95 <= 500 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=2000)
    parser.add_argument("--halts", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ONLOOP_WORKSPACES"] = str(Path(folder) / "workspaces")
        store = storage.open_store(str(Path(folder) / "onloop.db"))
        try:
            poll_costs(store, args.polls)
            halt_latency(store, args.halts)
        finally:
            store.dispose()


if __name__ == "__main__":
    main()
