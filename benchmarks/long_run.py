"""One long run: does onloop's own cost per step stay flat from step 10 to step 2,000?

Run from the repo root: `python benchmarks/long_run.py [--steps 2000] [--repeats 5]`.
`--code DIR` measures another checkout's code with the same script (e.g. an export of an older
commit: `git archive <commit> | tar -x -C /tmp/before`); `--against DIR` measures this checkout
and DIR in turn, repeat after repeat (interleaved), for before/after figures. Every run is a
fresh process.

Each repeat drives one run of `--steps` model calls through the real worker path (`drive_run`,
the SQLite store, the drift monitors, the progress judge every 5 steps as for any real model)
against benchmarks/chat_server.py's server in a child process (zero latency), with real tools:
the model writes a note in the run's workspace (`write_file`, new content each time), reads it
back (`read_file`), and so on, then calls `finish`.

Per step, from one step's model call to the next: onloop's own wall time (the interval less the
time the server spent on its requests, the step's and the judge's, from each request's head's
arrival to its answer, as the server clocks it) and the worker process's CPU time (all its threads; the server is another process). It prints
the median over a window of 21 steps around step 10, 100, 1,000 and 2,000, per repeat, then the
median over repeats, and the ratio of the last to the first. CPU time is the figure to trust on a
shared machine: wall time moves with the load average, printed with each repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AT = (10, 100, 1000, 2000)  # the steps reported; each the median of WINDOW steps around it
WINDOW = 21
JUDGE_MARK = "You review the work of an autonomous agent"


# -- the model server (child process): chat_server.py with a file-writing script and a clock ----
def _serve(port_file: str, steps: int) -> None:
    sys.path.insert(0, str(HERE))
    import chat_server

    class Files(chat_server.Script):
        """write_file a note, read_file it back, ... then finish; the judge gets a good score."""

        def reply(self, body: dict[str, Any], steps: int) -> tuple[str, list[dict[str, Any]]]:
            messages = body.get("messages") or []
            if JUDGE_MARK in str((messages[0] if messages else {}).get("content")):
                return '{"score": 0.9, "reason": "notes keep coming"}', []
            done = sum(1 for m in messages if m.get("role") == "tool")
            self.calls += 1
            call_id = f"call_{self.calls}"
            path = f"notes/note{done // 2}.md"  # a new file each time: rewrites are churn
            if done >= steps - 1:
                summary = f"wrote and read back {done // 2} notes"
                arguments = {"goal_met": True, "summary": summary}
                return "", [{"id": call_id, "name": "finish", "arguments": json.dumps(arguments)}]
            if done % 2 == 0:
                content = _note(done // 2)
                arguments = {"path": path, "content": content}
                text = f"Writing note {done // 2}."
                return text, [
                    {"id": call_id, "name": "write_file", "arguments": json.dumps(arguments)}
                ]
            text = f"Checking note {done // 2}."
            return text, [
                {"id": call_id, "name": "read_file", "arguments": json.dumps({"path": path})}
            ]

    class Clocked(chat_server.Server):
        """Clocks each request from its head's arrival (the body's reading, the parse, the
        reply) to its answer; GET /timings lists the times in order."""

        timings: list[float] = []
        head_at = 0.0

        async def handle(self, reader: asyncio.StreamReader, writer: Any) -> None:
            server = self

            class Reader:  # notes when a request's head came in
                async def readuntil(self, separator: bytes) -> bytes:
                    head = await reader.readuntil(separator)
                    server.head_at = time.perf_counter()
                    return head

                async def readexactly(self, n: int) -> bytes:
                    return await reader.readexactly(n)

            await super().handle(Reader(), writer)  # type: ignore[arg-type]

        async def route(self, method: str, path: str, raw: bytes, keep_alive: bool) -> bytes:
            if path.endswith("/timings"):
                body = json.dumps(self.timings).encode()
                self.timings.clear()
                return chat_server._response("200 OK", "application/json", body, keep_alive)
            answer = await super().route(method, path, raw, keep_alive)
            self.timings.append(time.perf_counter() - self.head_at)
            return answer

    async def main() -> None:
        server = await asyncio.start_server(Clocked(Files(steps, 0.0)).handle, "127.0.0.1", 0)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        async with server:
            await asyncio.Event().wait()

    asyncio.run(main())


_WORDS = (
    "amber basalt cedar delta ember fjord granite harbor iris juniper kestrel lagoon meadow "
    "nectar orchid pebble quartz raven saffron tundra umber violet willow yarrow zephyr"
).split()


def _note(n: int) -> str:
    """Note n: four lines of words no other note has in that order (numbers read as volatile)."""
    words = [_WORDS[(n // len(_WORDS) ** i + i * 7) % len(_WORDS)] for i in range(4)]
    return "\n".join(
        f"{' '.join(words[i:] + words[:i])} observed near the {w}" for i, w in enumerate(words)
    )


class Server:
    def __init__(self, steps: int) -> None:
        self.port_file = tempfile.mktemp()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", self.port_file, str(steps)]
        )
        while not (Path(self.port_file).exists() and Path(self.port_file).read_text()):
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{Path(self.port_file).read_text()}/v1"

    def timings(self) -> list[float]:
        with urllib.request.urlopen(f"{self.base_url}/timings", timeout=30) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


# -- the worker side --------------------------------------------------------------------------
def _model_factory(base_url: str, clock: list[tuple[bool, float, float]]):
    """The real OpenAI provider, noting when each call starts (wall, process CPU, judge?)."""
    from agent_core.models.openai_model import OpenAIModel

    class Clocked(OpenAIModel):
        def complete(self, messages, tools, **kwargs):
            judge = bool(messages) and JUDGE_MARK in str(messages[0].get("content"))
            clock.append((judge, time.perf_counter(), time.process_time()))
            return super().complete(messages, tools, **kwargs)

    return lambda run: Clocked("bench", api_key="k", base_url=base_url, max_retries=0)


def one_run(steps: int) -> dict[int, tuple[float, float]]:
    """Drive one run; per step k (1..steps-1): (own wall ms, CPU ms) from call k to call k+1."""
    import storage
    from agent_core.oversight.policy import Policy
    from agent_core.worker.claim_loop import drive_run

    server = Server(steps)
    store = storage.open_store(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    clock: list[tuple[bool, float, float]] = []
    try:
        run = storage.create_run(
            store,
            goal="Keep numbered notes in notes/: write each one, then read it back to check it.",
            model="openai",
            model_name="bench",
            autonomy="autonomous",
            tools=["read_file", "write_file"],
            max_steps=steps + 10,
            max_seconds=3600,
            policy=Policy().model_dump(mode="json"),
        )
        claimed = storage.claim_run(store, run_id=run.id, worker_id="bench", lease_seconds=60)
        outcome = drive_run(store, claimed, model_factory=_model_factory(server.base_url, clock))
        served = server.timings()
    finally:
        server.close()
    if outcome.status != "succeeded" or len(served) != len(clock):
        raise SystemExit(f"the run ended {outcome.status} ({outcome.reason}); {len(clock)} calls")
    per_step: dict[int, tuple[float, float]] = {}
    starts = [i for i, (judge, _, _) in enumerate(clock) if not judge]
    for k, (a, b) in enumerate(itertools.pairwise(starts), start=1):
        wall = clock[b][1] - clock[a][1] - sum(served[a:b])
        per_step[k] = (wall * 1000, (clock[b][2] - clock[a][2]) * 1000)
    return per_step


def _window(per_step: dict[int, tuple[float, float]], at: int, which: int) -> float:
    last = max(per_step)
    centre = min(at, last - WINDOW // 2)
    steps = range(max(centre - WINDOW // 2, 1), min(centre + WINDOW // 2, last) + 1)
    return statistics.median(per_step[k][which] for k in steps)


def _windows(steps: int) -> dict[str, list[float]]:
    """One run in this process: {step: [own wall ms, CPU ms]} at each reported step."""
    per_step = one_run(steps)
    return {str(s): [_window(per_step, s, 0), _window(per_step, s, 1)] for s in AT if s <= steps}


def _in_child(code: str | None, steps: int) -> dict[str, list[float]]:
    """One run in a fresh process measuring `code` (None: this checkout)."""
    command = [sys.executable, __file__, "--steps", str(steps), "--one"]
    out = subprocess.run(
        [*command, *(["--code", code] if code else [])], capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"the run of {code or 'this checkout'} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table(name: str, rows: list[tuple[float, dict[str, list[float]]]]) -> None:
    at = list(rows[0][1])
    print(f"\n{name}: own ms per step (wall less the server's time) / worker CPU ms per step")
    print("repeat  load(1m) " + "".join(f"{'step ' + s:>16}" for s in at))
    for n, (load, row) in enumerate(rows, start=1):
        cells = "".join(f"{row[s][0]:>8.2f}/{row[s][1]:<7.2f}" for s in at)
        print(f"{n:>6}  {load:>8.2f} {cells}")
    wall = {s: statistics.median(r[s][0] for _, r in rows) for s in at}
    cpu = {s: statistics.median(r[s][1] for _, r in rows) for s in at}
    print("median           " + "".join(f"{wall[s]:>8.2f}/{cpu[s]:<7.2f}" for s in at))
    first, last = at[0], at[-1]
    print(
        f"step {last} / step {first}: own wall {wall[last] / wall[first]:.2f}x, "
        f"CPU {cpu[last] / cpu[first]:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="model calls in the run")
    parser.add_argument("--repeats", type=int, default=5, help="runs; the median is reported")
    parser.add_argument("--code", help="the checkout whose agent_core and storage to measure")
    parser.add_argument(
        "--against", help="another checkout, measured in turn with this one (interleaved)"
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve[0], int(args.serve[1]))
        return
    if args.steps < 2 * WINDOW or args.repeats < 1:
        parser.error(f"--steps must be at least {2 * WINDOW} and --repeats at least 1")
    if args.one:
        sys.path.insert(0, args.code or str(HERE.parent))
        os.environ.setdefault("ONLOOP_WORKSPACES", tempfile.mkdtemp())
        import logging

        logging.disable(logging.WARNING)
        print(json.dumps(_windows(args.steps)))
        return
    codes = [args.code, *([args.against] if args.against else [])]
    print(f"{args.steps} steps, {args.repeats} repeats, each run in a fresh process", end="")
    print(", interleaved" if args.against else "")
    rows: dict[str | None, list] = {code: [] for code in codes}
    for repeat in range(1, args.repeats + 1):
        for code in codes:
            rows[code].append((os.getloadavg()[0], _in_child(code, args.steps)))
        print(f"repeat {repeat} done; load average {os.getloadavg()}", flush=True)
    for code in codes:
        _table(code or "this checkout", rows[code])
    print(f"\nload average at the end {os.getloadavg()} (2 shared cores: trust CPU over wall)")


if __name__ == "__main__":
    main()
