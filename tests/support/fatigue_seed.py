"""A store of asks whose approval-fatigue figures are known by hand, built through the storage API.

Each ask is requested with storage.request_approval and decided with storage.decide_approval at a
set moment (the store's clock held there), so every time to decide is exact. FIGURES holds the
figures of the last 30 days worked out by hand, with the sums shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import storage
import storage.approvals
from agent_core.tools import args_hash
from tests.support import dashboard_seed as seed


@dataclass(frozen=True)
class Ask:
    tool: str
    call_class: str | None
    by: str | None = None  # None: still pending
    status: str = "approved"
    wait_s: float = 0.0
    rule: str | None = None
    note: str | None = None
    edited: bool = False
    scope: str | None = None


SHELL = "ask-shell"
# Run 1 (demo, 20 tool calls, two days ago).
RUN_1 = [
    Ask("run_shell", "read", "ann", wait_s=1.0),
    Ask("run_shell", "build", "ann", wait_s=1.5, rule=SHELL),
    Ask("run_shell", "build", "ann", wait_s=0.5, rule=SHELL),
    Ask("write_file", "write", "ann", wait_s=30.0, edited=True),
    Ask("write_file", "write", "ann", wait_s=1.0, scope="folder"),
    Ask("run_shell", "destructive", "bob", "rejected", 12.0, rule=SHELL, note="not the tests"),
]
# Run 2 (openai gpt-4o-mini, 10 tool calls, yesterday).
RUN_2 = [
    Ask("fetch_url", "network", "bob", wait_s=4.0, scope="domain"),
    Ask("fetch_url", None, "bob", wait_s=8.0, note="only the docs"),
    Ask("run_shell", "build", "carol (--yes)", wait_s=0.2, rule=SHELL),
    Ask("run_shell", "install", "onloop (approval expired)", "expired", 600.0),
]
# Run 3 (demo, 10 tool calls, yesterday).
RUN_3 = [
    Ask("run_shell", "build", "ann", wait_s=1.2, rule=SHELL, scope="prefix"),
    Ask("delete_files", "destructive"),
    Ask("write_file", "write", "dan", "cancelled", 5.0),
    Ask("read_file", "read", "cy", wait_s=0.3),
    Ask("read_file", "read", "cy", wait_s=0.4),
]
# Sixty days ago: outside the last 30 days.
OLD_RUN = [Ask("run_shell", "build", "ann", wait_s=100.0, rule=SHELL)]

# The last 30 days: runs 1-3, 15 asks, 40 tool calls.
# Timed decisions (people, approved or rejected; not --yes): 0.3 0.4 0.5 1.0 1.0 1.2 1.5 4 8 12 30
FIGURES: dict[str, Any] = {
    "runs": 3,
    "tool_calls": 40,
    "asks": 15,
    "asks_per_run": 5.0,
    "asks_per_100_calls": 37.5,  # 15 * 100 / 40
    "outcomes": {
        "approved unchanged": 8,
        "approved with a note": 1,
        "approved with an edit": 1,
        "approved by --yes": 1,
        "rejected": 1,
        "expired": 1,
        "cancelled by a halt": 1,
        "pending": 1,
    },
    "decisions": 11,
    "median_s": 1.2,  # the 6th of 11
    "p90_s": 12.0,  # nearest rank: ceil(11 * 0.9) = 10th
    "fast": 7,  # under 2 s
    "by_class": [
        ("read", 3),
        ("build", 4),
        ("write", 3),
        ("network", 1),
        ("install", 1),
        ("destructive", 2),
        ("unclassified", 1),
    ],
    "by_rule": [("default (risk × autonomy)", 10), (SHELL, 5)],
    "by_tool": [
        ("run_shell", 7),
        ("write_file", 3),
        ("fetch_url", 2),
        ("read_file", 2),
        ("delete_files", 1),
    ],
    "allowances": {"prefix": 1, "folder": 1, "domain": 1},
    "revoked": 2,  # approval 5 once, approval 11 twice: two allowances
}


@dataclass(frozen=True)
class Seeded:
    runs: list[storage.Run]
    approvals: list[list[storage.Approval]]  # per run, in the order asked


def seed_asks(store: storage.Store, *, now: datetime | None = None) -> Seeded:
    """Runs 1-3 and the old run with their asks, the tool calls they made and two revocations."""
    now = now or storage.utcnow()
    plan = [
        (RUN_1, "demo", "demo", 20, now - timedelta(days=2)),
        (RUN_2, "openai", "gpt-4o-mini", 10, now - timedelta(days=1)),
        (RUN_3, "demo", "demo", 10, now - timedelta(days=1, minutes=5)),
        (OLD_RUN, "demo", "demo", 5, now - timedelta(days=60)),
    ]
    runs, approvals = [], []
    for asks, model, model_name, calls, created in plan:
        run = seed.make_run(
            store, model=model, model_name=model_name, created_at=created, status="running"
        )
        storage.add_usage(store, run_id=run.id, tool_calls=calls)
        runs.append(run)
        approvals.append(
            [ask_once(store, run, a, created + timedelta(minutes=i)) for i, a in enumerate(asks)]
        )
    revoke(store, runs[0], approvals[0][4])
    revoke(store, runs[2], approvals[2][0])
    revoke(store, runs[2], approvals[2][0])  # sent twice: still one allowance withdrawn
    return Seeded(runs, approvals)


def ask_once(store: storage.Store, run: storage.Run, ask: Ask, at: datetime) -> storage.Approval:
    """One ask, requested at `at` and decided `ask.wait_s` later as `ask` says."""
    arguments = {"call": f"{ask.tool} {at.isoformat()}"}
    approval = storage.request_approval(
        store,
        run_id=run.id,
        tool_call_id=f"ol{at.timestamp():.0f}",
        tool=ask.tool,
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk="medium",
        rule=ask.rule,
    )
    table = storage.Approval.__table__
    with store.engine.begin() as conn:  # while pending: the decision guard allows it
        conn.execute(
            table.update()
            .where(table.c.id == approval.id)
            .values(requested_at=at, call_class=ask.call_class)
        )
    if ask.by is not None:
        decide_at(store, approval, ask, at + timedelta(seconds=ask.wait_s))
    return storage.get_approval(store, approval_id=approval.id)


def decide_at(store: storage.Store, approval: storage.Approval, ask: Ask, when: datetime) -> None:
    edited = {"call": "edited"} if ask.edited else None
    with mock.patch.object(storage.approvals, "utcnow", lambda: when):
        storage.decide_approval(
            store,
            approval_id=approval.id,
            decision=ask.status,
            decided_by=ask.by or "",
            note=ask.note,
            edited_arguments=edited,
            approved_hash=args_hash(edited or approval.arguments)
            if ask.status == "approved"
            else None,
            allow_scope=ask.scope,
        )


def revoke(store: storage.Store, run: storage.Run, approval: storage.Approval) -> None:
    storage.append_event(
        store,
        run_id=run.id,
        kind="allowance_revoked",
        payload={"approval_id": approval.id, "by": "ann"},
    )
