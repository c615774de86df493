"""The openai SDK's two async HTTP transports side by side: CPU per model call at several
concurrencies, the same streamed Chat Completions requests against benchmarks/chat_server.py
at zero latency (its own process, so its CPU is not counted).

Run from the repo root: `python benchmarks/http_transport.py [--concurrency 1,100,300]
[--calls 5] [--repeat 5]`. For each concurrency the transports run in turn, round by round
(interleaved), each round a fresh client: `--concurrency` conversations at once, each making
`--calls` calls the way onloop's model does (a JSON body through the client's `post`, the
stream read as the server's JSON). Prints this process's CPU per call (user + system: robust on a
shared machine, where wall time is not), medians (min-max) over the rounds, and the load.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time

import openai
from cpu_meter import load_average
from harness import BENCH_GOAL, ChatServer, model_name

TRANSPORTS = {
    "httpx": openai.DefaultAsyncHttpxClient,
    "aiohttp": openai.DefaultAioHttpClient,
}


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def conversation(client: openai.AsyncOpenAI, calls: int) -> None:
    messages = [{"role": "user", "content": BENCH_GOAL}]
    for _ in range(calls):
        body = {"model": model_name(calls, 0), "messages": messages, "stream": True}
        stream = await client.post(
            "/chat/completions",
            body=body,
            cast_to=object,
            stream=True,
            stream_cls=openai.AsyncStream[object],
        )
        async with stream:
            async for _chunk in stream:
                pass


async def one_round(base_url: str, transport: str, concurrency: int, calls: int) -> tuple:
    client = openai.AsyncOpenAI(
        api_key="bench", base_url=base_url, http_client=TRANSPORTS[transport]()
    )
    try:
        await conversation(client, 1)  # the connection and the imports, before the clock
        cpu, wall = cpu_s(), time.perf_counter()
        await asyncio.gather(*(conversation(client, calls) for _ in range(concurrency)))
        return (cpu_s() - cpu) / (concurrency * calls) * 1000, time.perf_counter() - wall
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,100,300")
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.concurrency.split(",") if level.strip()]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; {load_average()} at start")
    with ChatServer(latency_ms=0) as server:
        for level in levels:
            figures: dict[str, list[tuple[float, float]]] = {name: [] for name in TRANSPORTS}
            for _ in range(args.repeat):
                for name in TRANSPORTS:
                    figures[name].append(
                        asyncio.run(one_round(server.base_url, name, level, args.calls))
                    )
            for name, rounds in figures.items():
                cpu = [round_[0] for round_ in rounds]
                wall = [round_[1] for round_ in rounds]
                print(
                    f"{level:4d} at once, {name:7s}: {statistics.median(cpu):.2f} ms CPU per call "
                    f"({min(cpu):.2f}-{max(cpu):.2f}), wall {statistics.median(wall):.2f} s"
                )
    print(f"{load_average()} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
