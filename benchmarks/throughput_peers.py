"""The peers' side of throughput.py: the same conversations, all at once on asyncio in this
process, through a bare `openai.AsyncOpenAI` loop (no store), LangGraph and the Agents SDK."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import frameworks
from harness import BENCH_EXTRA_HINT, ChatServer, Tee, model_name


def bare_batch(args: argparse.Namespace, server: ChatServer) -> float:
    """The bare `openai.AsyncOpenAI` loop (no store), `--runs` conversations at once: wall s."""

    async def go() -> float:
        warm, warm_close = frameworks.bare_async(server.base_url, model_name(args.calls, 0))
        await warm()
        await warm_close()
        converse, close = frameworks.bare_async(
            server.base_url, model_name(args.calls, args.latency_ms)
        )
        tick = time.perf_counter()
        await asyncio.gather(*(converse() for _ in range(args.runs)))
        wall = time.perf_counter() - tick
        await close()
        return wall

    return asyncio.run(go())


def peers(args: argparse.Namespace, server: ChatServer, out: Tee) -> None:
    ideal = args.calls * args.latency_ms / 1000
    model = model_name(args.calls, args.latency_ms)
    warm = model_name(args.calls, 0)
    out("")
    out(
        f"peers (asyncio, {args.runs} at once): {args.runs} runs x {args.calls} calls at {args.latency_ms:.0f} ms"
    )
    out(f"{'peer':<26}{'wall s':>9}{'x ideal':>9}{'calls/s':>9}")

    async def batch(make) -> tuple[float, int]:
        warm_converse, warm_close = await make(warm)
        await warm_converse()  # imports, the first connection, the database's tables
        await warm_close()
        converse, close = await make(model)
        before = server.stats()["requests"]
        started = time.perf_counter()
        await asyncio.gather(*(converse() for _ in range(args.runs)))
        wall = time.perf_counter() - started
        made = server.stats()["requests"] - before
        await close()
        if made != args.runs * args.calls:
            raise RuntimeError(f"{made} model calls, not {args.runs} x {args.calls}")
        return wall, made

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        async def bare(name: str):
            return frameworks.bare_async(server.base_url, name)

        async def langgraph(name: str):
            return await frameworks.langgraph_async(server.base_url, name, folder / f"lg-{name}.db")

        async def agents(name: str):
            return frameworks.agents_async(server.base_url, name, folder / "agents.db")

        table = [
            ("bare openai (asyncio)", "bare", bare),
            ("LangGraph+AsyncSqliteSaver", "langgraph", langgraph),
        ]
        table.append(("Agents SDK+SQLiteSession", "agents", agents))

        async def every_peer() -> None:  # one event loop: some peers share a client across calls
            for label, key, make in table:
                if key != "bare" and not frameworks.available(key):
                    out(f"{label:<26} skipped, {BENCH_EXTRA_HINT}")
                    continue
                wall, made = await batch(make)
                out(f"{label:<26}{wall:>9.2f}{wall / ideal:>9.2f}{made / wall:>9.1f}")

        asyncio.run(every_peer())
