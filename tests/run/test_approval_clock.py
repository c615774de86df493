"""Approval deadlines on the database's clock (storage.clock), as leases are: a worker whose clock
is an hour off (either way) neither lets an approval expire early nor keeps one alive past its
deadline, and a person on another clock can decide it for exactly the time the policy gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import DecisionError, approve
from agent_core.oversight.policy import Policy
from storage.clock import db_now
from storage.engine import writing
from storage.models import Approval, table_of
from tests.support.run_helpers import Driver, events_of, new_run
from tests.support.store_versions import shift_clock

HOUR = timedelta(hours=1)
TIMEOUT_S = 600  # ten minutes to decide


def _one_write() -> ScriptedModel:
    return ScriptedModel(
        [
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
                ]
            },
            "done",
        ]
    )


def _database_now(store: storage.Store):
    with store.engine.connect() as conn:
        return conn.execute(select(db_now())).scalar_one()


@pytest.mark.parametrize("offset", [HOUR, -HOUR], ids=["ahead", "behind"])
def test_a_skewed_worker_gives_the_person_the_whole_timeout(any_store, monkeypatch, offset):
    store = any_store
    run = new_run(store, "write", model="scripted", policy=Policy(approval_timeout_s=TIMEOUT_S))
    shift_clock(monkeypatch, offset)  # the worker's clock (this process's) is an hour off
    driver = Driver(store, run, _one_write()).start()
    pending = driver.pending()
    # The deadline is the database's now plus the timeout, not the worker's clock's.
    left = pending.expires_at - _database_now(store)
    assert timedelta(0) < left <= timedelta(seconds=TIMEOUT_S)
    monkeypatch.undo()  # the person decides on the right clock, well inside the ten minutes
    approve(store, approval_id=pending.id, by="alice")
    outcome = driver.join()
    assert outcome.status == "succeeded", outcome.reason
    assert storage.get_approval(store, approval_id=pending.id).status == "approved"
    assert (Path(run.workspace) / "a.txt").read_text() == "x"


@pytest.mark.parametrize("offset", [HOUR, -HOUR], ids=["ahead", "behind"])
def test_a_skewed_worker_expires_an_undecided_approval_on_the_databases_clock(
    store, monkeypatch, offset
):
    run = new_run(store, "write", model="scripted", policy=Policy(approval_timeout_s=0.5))
    shift_clock(monkeypatch, offset)
    outcome = Driver(store, run, _one_write()).start().join()  # an hour late would time out
    assert outcome.status == "unmet", outcome.reason
    decided = events_of(store, run.id, "approval_decided")[0].payload
    assert decided["decision"] == "expired"
    assert not (Path(run.workspace) / "a.txt").exists()


def test_a_decision_after_the_deadline_is_refused_whatever_the_deciders_clock(store, monkeypatch):
    run = new_run(store, "write", model="scripted", policy=Policy(approval_timeout_s=TIMEOUT_S))
    driver = Driver(store, run, _one_write()).start()
    pending = driver.pending()
    # The deadline passes (on the database's clock: the row is moved back past it) ...
    past = _database_now(store) - timedelta(seconds=1)
    approvals = table_of(Approval)
    with writing(store) as conn:
        conn.execute(approvals.update().where(approvals.c.id == pending.id).values(expires_at=past))
    shift_clock(monkeypatch, -HOUR)  # ... and a person whose clock says there is an hour left
    with pytest.raises(DecisionError, match="expired"):
        approve(store, approval_id=pending.id, by="mallory")
    monkeypatch.undo()
    assert driver.join().status == "unmet"
