"""The store reads every open page repeats, shared by all viewers of this dashboard process.

Each answer is at most SHARED_TTL_SECONDS old; within that time ten open tabs asking the same
question cost one query (see storage.shared_reads.SharedReads).
"""

from __future__ import annotations

import storage
from storage.shared_reads import LiveBoard, SharedReads, live_board, pending_approval_count

SHARED_TTL_SECONDS = 0.25
SHARED = SharedReads(ttl=SHARED_TTL_SECONDS)


def pending_count(store: storage.Store) -> int:
    """How many approvals wait for a person (one indexed COUNT per interval, all viewers)."""
    return SHARED.get(store, "pending-approvals", pending_approval_count)


def pending_list(store: storage.Store) -> list[storage.Approval]:
    """The oldest 200 pending approvals, for the toasts every open page shows when one arrives."""
    return SHARED.get(store, "pending-list", _oldest_pending)


def _oldest_pending(store: storage.Store) -> list[storage.Approval]:
    return storage.pending_approvals(store, limit=200)


def active_board(store: storage.Store) -> LiveBoard:
    """The Live page's runs and their pending approvals (one read per interval, all viewers)."""
    return SHARED.get(store, "live-board", live_board)
