"""The openai SDK's two async HTTP transports side by side: CPU per model call at several
concurrencies, the same streamed Chat Completions requests against benchmarks/chat_server.py
at zero latency (its own process, so its CPU is not counted).

Run from the repo root: `python benchmarks/http_transport.py [--concurrency 1,100,300]
[--calls 5] [--repeat 5]`. For each concurrency the transports run in turn, round by round
(interleaved), each round a fresh client: `--concurrency` conversations at once, each making
`--calls` calls the way onloop's model does (a JSON body through the client's `post`, the
stream read as the server's JSON), and a third row, "no SDK": the same requests on a bare aiohttp
session, the stream's events split and parsed as JSON here (what any client must do; the floor
under the SDK's share). Prints this process's CPU per call (user + system: robust on a
shared machine, where wall time is not), medians (min-max) over the rounds, and the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time

import aiohttp
import openai
from cpu_meter import load_average
from harness import BENCH_GOAL, ChatServer, model_name

TRANSPORTS = {
    "httpx": openai.DefaultAsyncHttpxClient,
    "aiohttp": openai.DefaultAioHttpClient,
}
BARE = "no SDK"


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


async def bare_conversation(session: aiohttp.ClientSession, url: str, calls: int) -> None:
    """The same calls without the SDK: the JSON body, the SSE events split and parsed."""
    messages = [{"role": "user", "content": BENCH_GOAL}]
    headers = {"Content-Type": "application/json", "Authorization": "Bearer bench"}
    for _ in range(calls):
        body = {"model": model_name(calls, 0), "messages": messages, "stream": True}
        async with session.post(url, data=json.dumps(body), headers=headers) as response:
            pending = b""
            async for piece in response.content.iter_any():
                pending += piece
                *events, pending = pending.split(b"\n\n")
                for event in events:
                    data = event.removeprefix(b"data: ")
                    if data != b"[DONE]":
                        json.loads(data)


async def bare_round(base_url: str, concurrency: int, calls: int) -> tuple:
    url = f"{base_url}/chat/completions"
    async with aiohttp.ClientSession() as session:
        await bare_conversation(session, url, 1)
        cpu, wall = cpu_s(), time.perf_counter()
        await asyncio.gather(*(bare_conversation(session, url, calls) for _ in range(concurrency)))
        return (cpu_s() - cpu) / (concurrency * calls) * 1000, time.perf_counter() - wall


async def one_round(base_url: str, transport: str, concurrency: int, calls: int) -> tuple:
    if transport == BARE:
        return await bare_round(base_url, concurrency, calls)
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
            figures: dict[str, list[tuple[float, float]]] = {n: [] for n in [*TRANSPORTS, BARE]}
            for _ in range(args.repeat):
                for name in figures:
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
