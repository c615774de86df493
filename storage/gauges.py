"""What a metrics scrape reads from the store: runs by status, the queue and pending approvals,
in one statement (a GROUP BY on the runs' status index, two MIN/COUNTs on indexed columns)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, literal, select, union_all

from storage.engine import Store, reading
from storage.models import Approval, Run, table_of, utcnow

_runs = table_of(Run)
_approvals = table_of(Approval)


@dataclass
class Gauges:
    """The store's state now: runs per status, and the oldest queued run's and pending approval's
    age in seconds (0 when there is none)."""

    runs: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    oldest_queued_s: float = 0.0
    pending_approvals: int = 0
    oldest_approval_s: float = 0.0


# A queued run's updated_at is when it was (last) queued: a resumed run's created_at is old.
_QUERY = union_all(
    select(_runs.c.status, func.count(), literal(None)).group_by(_runs.c.status),
    select(literal("+queue"), func.count(), func.min(_runs.c.updated_at)).where(
        _runs.c.status == "queued"
    ),
    select(literal("+approvals"), func.count(), func.min(_approvals.c.requested_at)).where(
        _approvals.c.status == "pending"
    ),
)


def read_gauges(store: Store) -> Gauges:
    """One read of what the metrics' store gauges show."""
    with reading(store) as conn:
        rows = conn.execute(_QUERY).all()
        now = utcnow()
    gauges = Gauges()
    for name, count, oldest in rows:
        if name == "+queue":
            gauges.queued, gauges.oldest_queued_s = int(count), _age(oldest, now)
        elif name == "+approvals":
            gauges.pending_approvals, gauges.oldest_approval_s = int(count), _age(oldest, now)
        else:
            gauges.runs[str(name)] = int(count)
    return gauges


def _age(oldest: datetime | str | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if isinstance(oldest, str):  # SQLite returns MIN() of a datetime column as its text
        oldest = datetime.fromisoformat(oldest)
    return max(0.0, (now - oldest.replace(tzinfo=None)).total_seconds())
