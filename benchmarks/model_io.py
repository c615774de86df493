"""CPU of one model call on the process's model I/O thread, streamed and not, in turn.

One `OpenAIModel` sends `--calls` calls one after another to the local chat server (zero
latency, a reply with one tool call, as the worker benchmarks use) and this prints the CPU per
call of the `onloop-model-io` thread (the SDK's request building, the transport, the stream's
parsing) and of the calling thread, for a streamed and a non-streamed model in turn.

Run from the repo root: `python benchmarks/model_io.py [--calls 1500] [--rounds 2]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from harness import ROOT, ChatServer, model_name

sys.path.insert(0, str(ROOT))

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
        },
    }
]


def cpu_by_thread() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    seconds = {}
    for task in Path("/proc/self/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        seconds[names.get(int(task.name), task.name)] = used
    return seconds


def measure(model, calls: int) -> tuple[float, float, float]:
    """(wall ms, model I/O thread CPU ms, calling thread CPU ms) per call."""
    messages = [{"role": "user", "content": "What is 6*7?"}]
    cancel = threading.Event()
    for _ in range(20):  # the connection, the loop, the imports
        model.complete(messages, TOOLS, cancel=cancel)
    before, tick = cpu_by_thread(), time.perf_counter()
    for _ in range(calls):
        model.complete(messages, TOOLS, cancel=cancel)
    wall, after = time.perf_counter() - tick, cpu_by_thread()

    def used(name: str) -> float:
        return (after.get(name, 0.0) - before.get(name, 0.0)) / calls * 1000

    return wall / calls * 1000, used("onloop-model-io"), used("MainThread")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if min(args.calls, args.rounds) < 1:
        parser.error("--calls and --rounds must be >= 1")
    from agent_core.models.openai_model import OpenAIModel

    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} / {five:.2f} (1 / 5 min), {os.cpu_count()} cores")
    with ChatServer() as server:
        for round_ in range(1, args.rounds + 1):
            for stream in (True, False):
                model = OpenAIModel(
                    model_name(5, 0), api_key="k", base_url=server.base_url, stream=stream
                )
                wall, io_ms, caller_ms = measure(model, args.calls)
                print(
                    f"round {round_} {'streamed' if stream else 'not streamed':12} "
                    f"{args.calls} calls: wall {wall:.2f} ms a call; CPU ms a call: "
                    f"model I/O thread {io_ms:.2f}, calling thread {caller_ms:.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
