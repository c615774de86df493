"""Reads for pages that watch the store: one indexed read per question, shared by every viewer.

A dashboard refreshes the same few questions for each open tab (how many approvals wait, which
runs are active). `SharedReads` keeps each answer for a fraction of a second per store, so ten
tabs asking in the same interval cost one query, and an answer is never older than the TTL.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlmodel import col

from storage.engine import Store, read_session, reading
from storage.models import Approval, Run, table_of
from storage.vocabulary import ACTIVE_STATUSES

T = TypeVar("T")
_approvals = table_of(Approval)
LIVE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class LiveBoard:
    """The active runs, newest launch first (a fixed order), with their pending approvals."""

    runs: tuple[Run, ...]
    pending: dict[str, int] = field(default_factory=dict)  # run id -> pending approvals

    def pending_for(self, run_id: str) -> int:
        return self.pending.get(run_id, 0)


def pending_approval_count(store: Store) -> int:
    """Approvals waiting for a person: a COUNT over ix_approvals_status_requested_at alone."""
    query = select(func.count()).select_from(_approvals).where(_approvals.c.status == "pending")
    with reading(store) as conn:
        return int(conn.execute(query).scalar() or 0)


def live_board(store: Store, *, limit: int = LIVE_LIMIT) -> LiveBoard:
    """Active runs and their pending approvals in one read (no query per run).

    Ordered by launch time, newest first, ties by id: a run keeps its place while it changes
    status, so the list never re-sorts under a person's cursor.
    """
    pending = (
        select(_approvals.c.run_id, func.count().label("pending"))
        .where(_approvals.c.status == "pending")
        .group_by(_approvals.c.run_id)
        .subquery("pending")
    )
    query = (
        select(Run, pending.c.pending)
        .outerjoin(pending, col(Run.id) == pending.c.run_id)
        .where(col(Run.status).in_(ACTIVE_STATUSES))
        .order_by(col(Run.created_at).desc(), col(Run.id).desc())
        .limit(limit)
    )
    with read_session(store) as session:
        rows = session.execute(query).all()
    return LiveBoard(
        runs=tuple(run for run, _ in rows),
        pending={run.id: int(count) for run, count in rows if count},
    )


@dataclass(slots=True)
class _Entry:
    value: Any = None
    read_at: float = float("-inf")  # when the read that produced `value` began
    lock: threading.Lock = field(default_factory=threading.Lock)


class SharedReads:
    """Answers kept `ttl` seconds per store and question, read by one caller at a time.

    A value's age counts from when its read began, so a caller never gets an answer older than
    `ttl`. Callers arriving while a read runs wait for it rather than starting their own.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: weakref.WeakKeyDictionary[Store, dict[str, _Entry]] = (
            weakref.WeakKeyDictionary()
        )

    def _entry(self, store: Store, name: str) -> _Entry:
        with self._lock:
            return self._entries.setdefault(store, {}).setdefault(name, _Entry())

    def get(self, store: Store, name: str, read: Callable[[Store], T]) -> T:
        entry = self._entry(store, name)
        if self._clock() - entry.read_at < self.ttl:
            return entry.value  # type: ignore[no-any-return]
        with entry.lock:
            began = self._clock()
            if began - entry.read_at < self.ttl:  # another caller read it while we waited
                return entry.value  # type: ignore[no-any-return]
            value = read(store)
            entry.value, entry.read_at = value, began
            return value

    def forget(self, store: Store) -> None:
        """Drop a store's answers (after a write whose effect this process must see at once)."""
        with self._lock:
            self._entries.pop(store, None)
