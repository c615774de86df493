"""The latest decided asks as the suggested rules read them: the call, not the whole approval.

Agents ask about the same calls again and again, so each distinct arguments text is decoded once
and the rows that share it share one dict (read-only); `call` is that text, a key callers can
group identical calls by without encoding the arguments again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, select

from storage.engine import Store, reading
from storage.models import Approval, table_of

_approvals = table_of(Approval)


@dataclass(frozen=True)
class DecidedCall:
    id: int
    run_id: str
    tool: str
    risk: str
    status: str
    arguments: dict[str, Any]  # shared by every row with the same text: do not change it
    edited_arguments: dict[str, Any] | None
    call: str  # the arguments as stored: equal texts, equal calls
    edited: str | None  # the edited arguments as stored; None when not edited


def decided_calls(store: Store, *, limit: int) -> list[DecidedCall]:
    """The `limit` latest decided asks, newest decision first (as storage.decisions orders them)."""
    a = _approvals.c
    query = (
        select(
            a.id,
            a.run_id,
            a.tool,
            a.risk,
            a.status,
            cast(a.arguments, Text).label("call"),
            cast(a.edited_arguments, Text).label("edited"),
        )
        .where(a.status != "pending")
        .order_by(a.decided_at.desc(), a.id.desc())
        .limit(limit)
    )
    with reading(store) as conn:
        rows = conn.execute(query).all()
    decoded: dict[str, Any] = {}

    def value(text: str | None) -> Any:
        if text is None:
            return None
        if text not in decoded:
            decoded[text] = json.loads(text)
        return decoded[text]

    calls = []
    for row in rows:
        edited_arguments = value(row.edited)
        calls.append(
            DecidedCall(
                id=row.id,
                run_id=row.run_id,
                tool=row.tool,
                risk=row.risk,
                status=row.status,
                arguments=value(row.call) or {},
                edited_arguments=edited_arguments,
                call=row.call or "null",
                edited=None if edited_arguments is None else row.edited,
            )
        )
    return calls
