"""A stopping worker closes what its runs shared in this process: MCP servers, model clients."""

from __future__ import annotations

from agent_core.models import io_loop
from agent_core.tools import mcp_client
from agent_core.worker.claim_loop import Worker


class _Client:
    """Stands for an openai client: closed once, on the process's I/O loop."""

    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def test_a_stopping_worker_closes_the_mcp_pool_and_the_model_clients(store):
    pool = mcp_client.shared_pool()
    client = io_loop.shared_client(("shutdown test",), _Client)
    assert io_loop.shared_client(("shutdown test",), _Client) is client  # shared, until closed
    try:
        Worker(store, concurrency=1, poll_s=0.01).shutdown(timeout=1)
        assert io_loop.client_count() == 0
        assert io_loop.shared_client(("shutdown test",), _Client) is not client
        assert mcp_client.shared_pool() is not pool  # the old pool was closed and let go
    finally:
        mcp_client.close_shared_pool()
        io_loop.close_clients()
