"""Migrations carry every approval of an earlier schema into today's model exactly: a pending one
stays pending and is decided once; one approved and never used stays unconsumed and authorises
exactly one execution; one used stays used (the old worker's start is in the record)."""

from __future__ import annotations

import pytest

import storage
from agent_core.tools import args_hash
from tests.support.old_runs import CALL, STATES, write_run
from tests.support.old_schemas import CONSUMING, EARLIER, make_old_store


def _upgraded(url: str, version: int, tmp_path) -> tuple[storage.Store, dict[str, int]]:
    approvals: dict[str, int] = {}

    def fill(conn, v):
        for state in STATES:
            written = write_run(conn, v, state, f"{state[:10]}{v:02d}", tmp_path / state)
            if written.approval_id is not None:
                approvals[state] = written.approval_id

    make_old_store(url, version, fill)
    return storage.open_store(url), approvals


def _carried_over(store: storage.Store, approvals: dict[str, int], version: int) -> None:
    assert storage.current_version(store.engine) == storage.SCHEMA_VERSION
    pending = storage.get_approval(store, approval_id=approvals["waiting_pending"])
    unused = storage.get_approval(store, approval_id=approvals["waiting_approved"])
    used = storage.get_approval(store, approval_id=approvals["approved_started"])
    assert (pending.status, pending.decided_at, pending.consumed_at) == ("pending", None, None)
    assert [a.id for a in storage.pending_approvals(store)] == [pending.id]
    assert (unused.status, unused.decided_by, unused.consumed_at) == ("approved", "ann", None)
    assert unused.approved_hash == args_hash(CALL)
    assert used.status == "approved"
    assert (used.consumed_at is not None) == (version >= CONSUMING)

    decided = storage.decide_approval(
        store,
        approval_id=pending.id,
        decision="approved",
        decided_by="bob",
        approved_hash=args_hash(CALL),
    )
    assert decided.status == "approved"
    with pytest.raises(storage.InvalidState, match="already approved by bob"):
        storage.decide_approval(
            store, approval_id=pending.id, decision="rejected", decided_by="eve"
        )
    for approval in (decided, unused):  # each authorises exactly one execution
        start = {
            "run_id": approval.run_id,
            "approval_id": approval.id,
            "args_hash": args_hash(CALL),
        }
        storage.begin_execution(store, **start, tool_call_id="call_1", tool="delete_files")
        with pytest.raises(storage.ApprovalUnusable, match="already used"):
            storage.begin_execution(store, **start, tool_call_id="call_1", tool="delete_files")
    if version >= CONSUMING:
        with pytest.raises(storage.ApprovalUnusable, match="already used"):
            storage.begin_execution(
                store, run_id=used.run_id, approval_id=used.id, args_hash=args_hash(CALL)
            )


@pytest.mark.parametrize("version", EARLIER)
def test_approvals_carry_over_exactly_sqlite(tmp_path, version, monkeypatch):
    monkeypatch.setenv("ONLOOP_UPGRADE_COPY", "0")
    store, approvals = _upgraded(f"sqlite:///{tmp_path / 'onloop.db'}", version, tmp_path)
    with store:
        _carried_over(store, approvals, version)


@pytest.mark.parametrize("version", EARLIER)
def test_approvals_carry_over_exactly_postgresql(tmp_path, version, postgres_url):
    store, approvals = _upgraded(postgres_url, version, tmp_path)
    with store:
        _carried_over(store, approvals, version)
