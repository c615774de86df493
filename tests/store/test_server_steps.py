"""PostgreSQL's step writes as one call of the store's function (storage/server_steps.py,
storage/step_function.py, schema version 13), held to the driver path they replace: the same
rows down to the payload's JSON text, the same refusals with nothing written, a halt committed
while the step waits for the run's row still stops it, a durable write commits with
synchronous_commit on, and a store without the function still writes (on the driver path)."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import insert, text

import storage
from storage.models import Command, table_of, utcnow
from storage.step_function import FUNCTION
from tests.support.dashboard_fixtures import request_approval
from tests.support.statements import StatementCounter
from tests.support.store_versions import record_newer_version

pytestmark = pytest.mark.postgres

# Payloads that take every road through JSON: escapes PostgreSQL cannot read out of a JSON text
# (a NUL), quotes, dollar quotes and percent signs (the function's body and the driver's
# paramstyle), line separators, big and small numbers, nesting, a datetime (the store's JSON
# writes it as text), non-ASCII keys, an empty object.
PAYLOADS = [
    {"text": "nul \u0000 here", "n": 0},
    {"text": "quotes ' \" \\ and $fn$ $$ %s %(rid)s ;--", "tool": "t1", "verdict": "allow"},
    {"text": "\u00e9\u2028\u2029\U0001f600", "numbers": [1e-7, 0.1, 2**63, -0.0, 1.5e300]},
    {"nested": {"a": [{"b": None}, True, False]}, "clé": "vàlue"},
    {"when": datetime(2026, 12, 6, 4, 5, 6, 789)},
    {},
]


def driven(store: storage.Store, goal: str = "steps") -> tuple[storage.Run, storage.Fence]:
    run = storage.create_run(store, goal=goal)
    claimed = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=60)
    storage.mark_driven(store, run_id=run.id, status="running", worker_id="w")
    return claimed, storage.Fence("w", claimed.claim_epoch)


def stored(store: storage.Store, run_id: str) -> list[tuple]:
    """Each event as the database holds it, the payload as its JSON text."""
    query = text(
        "SELECT seq, kind, at, payload::text, tool, verdict FROM events "
        "WHERE run_id = :rid ORDER BY seq"
    )
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query, {"rid": run_id})]


def totals(store: storage.Store, run_id: str) -> tuple:
    run = storage.get_run(store, run_id=run_id)
    return (run.last_seq, run.steps, run.tool_calls, run.tokens_in, run.tokens_out, run.cost_usd)


def counts(store: storage.Store) -> list[tuple]:
    with store.engine.connect() as conn:
        query = text("SELECT tool, verdict, calls FROM tool_call_counts ORDER BY tool, verdict")
        return [tuple(row) for row in conn.execute(query)]


def write_all(store: storage.Store, run_id: str, fence: storage.Fence) -> None:
    """One of each write the hot path makes, with payloads that test the JSON."""
    for payload in PAYLOADS:
        storage.append_event(store, run_id=run_id, kind="judge", payload=payload, fence=fence)
    calls = [("tool_call", {"tool": f"t{i % 3}", "verdict": "allow", "i": i}) for i in range(40)]
    storage.begin_step(
        store,
        run_id=run_id,
        kind="model_call",
        payload={"text": "forty calls"},
        fence=fence,
        usage={"steps": 1, "tokens_in": 7, "tokens_out": 3, "cost_usd": 0.25},
        before=calls,
    )
    storage.begin_execution(
        store,
        run_id=run_id,
        tool="calculator",
        tool_call_id="c1",
        fence=fence,
        before=[("tool_call", {"tool": "calculator", "verdict": None})],
        usage={"tool_calls": 1},
    )


@pytest.fixture
def pg(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    with storage.open_store(postgres_url) as store:
        yield store


def test_the_function_writes_what_the_driver_path_writes(pg):
    by_driver, fence_d = driven(pg, "driver")
    by_function, fence_f = driven(pg, "function")
    first = len(stored(pg, by_function.id))  # the run's own events before these
    pg.server_steps = False
    write_all(pg, by_driver.id, fence_d)
    counted_by_driver = counts(pg)
    with pg.engine.begin() as conn:
        conn.execute(text("DELETE FROM tool_call_counts"))
    pg.server_steps = True
    with StatementCounter(pg) as counter:
        write_all(pg, by_function.id, fence_f)
    assert counter.counts == {f"SELECT {FUNCTION}": len(PAYLOADS) + 2}
    driver_rows, function_rows = stored(pg, by_driver.id), stored(pg, by_function.id)
    assert len(function_rows) == len(driver_rows) == first + len(PAYLOADS) + 43
    for theirs, ours in zip(driver_rows, function_rows, strict=True):
        assert ours[0] == theirs[0] and ours[1] == theirs[1]  # seq, kind
        assert ours[3:] == theirs[3:]  # the payload's JSON text, tool, verdict
        assert isinstance(ours[2], datetime) and ours[2].tzinfo is None
    assert totals(pg, by_function.id) == totals(pg, by_driver.id)
    assert counts(pg) == counted_by_driver
    read_back = [e.payload for e in storage.events_after(pg, run_id=by_function.id)]
    assert read_back[first : first + len(PAYLOADS)] == [
        {**p, "when": str(p["when"])} if "when" in p else p for p in PAYLOADS
    ]


def test_each_event_keeps_its_own_time(pg):
    run, fence = driven(pg)
    before = utcnow()
    seq = storage.append_event(pg, run_id=run.id, kind="judge", payload={}, fence=fence)
    event = storage.events_after(pg, run_id=run.id, after_seq=seq - 1)[0]
    assert before <= event.at <= utcnow()


def nothing_written(store: storage.Store, run_id: str, before: tuple, events: int) -> None:
    assert totals(store, run_id) == before
    assert len(stored(store, run_id)) == events


@pytest.mark.parametrize("path", ["function", "driver"])
def test_every_refusal_writes_nothing(pg, path):
    pg.server_steps = path == "function"
    run, fence = driven(pg)
    usage = {"steps": 1, "tokens_in": 5, "cost_usd": 0.5}

    def step(fence_now: storage.Fence | None = fence) -> int:
        return storage.begin_step(
            pg, run_id=run.id, kind="model_call", payload={}, fence=fence_now, usage=usage
        )

    before, events = totals(pg, run.id), len(stored(pg, run.id))
    with pytest.raises(storage.LeaseLost, match="no longer w's"):
        step(storage.Fence("w", fence.epoch + 1))
    with pytest.raises(storage.LeaseLost):
        step(storage.Fence("someone else"))
    with pytest.raises(storage.NotFound, match="no run"):
        storage.append_event(pg, run_id="nosuchrun", kind="judge", payload={})
    nothing_written(pg, run.id, before, events)

    approval = request_approval(pg, run.id)  # an ask: its event, then the approval waiting
    before, events = totals(pg, run.id), len(stored(pg, run.id))
    with pytest.raises(storage.ApprovalUnusable, match="it is pending"):
        storage.begin_execution(pg, run_id=run.id, approval_id=approval.id, fence=fence)
    storage.decide_approval(
        pg,
        approval_id=approval.id,
        decision="approved",
        decided_by="ann",
        approved_hash=approval.args_hash,
    )
    before, events = totals(pg, run.id), len(stored(pg, run.id))
    with pytest.raises(storage.ApprovalUnusable, match="arguments differ"):
        storage.begin_execution(
            pg, run_id=run.id, approval_id=approval.id, args_hash="other", fence=fence
        )
    nothing_written(pg, run.id, before, events)

    storage.halt_run(pg, run_id=run.id, by="ann")
    before, events = totals(pg, run.id), len(stored(pg, run.id))
    with pytest.raises(storage.HaltRequested, match="halted by ann"):
        step()
    with pytest.raises(storage.HaltRequested, match="halted by ann"):  # the approval stays
        storage.begin_execution(
            pg,
            run_id=run.id,
            approval_id=approval.id,
            args_hash=approval.args_hash,
            fence=fence,
            usage=usage,
        )
    nothing_written(pg, run.id, before, events)
    assert storage.get_approval(pg, approval_id=approval.id).consumed_at is None


@pytest.mark.parametrize("path", ["function", "driver"])
def test_a_newer_store_stops_the_step(pg, path):
    pg.server_steps = path == "function"
    run, fence = driven(pg)
    record_newer_version(pg)
    before = totals(pg, run.id)
    with pytest.raises(storage.StoreUpgraded):
        storage.begin_step(pg, run_id=run.id, kind="model_call", payload={}, fence=fence)
    assert totals(pg, run.id) == before
    # an event that is no step's start (no halt check) still goes: the run's own record
    storage.append_event(pg, run_id=run.id, kind="judge", payload={}, fence=fence)


@pytest.mark.parametrize("path", ["function", "driver"])
def test_a_halt_committed_while_the_step_waits_for_the_run_stops_it(pg, path):
    """The halt's transaction holds the run's row when the step comes: the step waits for the
    lock, the halt commits, and the step must see it (a function that read one snapshot for all
    its statements, STABLE, would not: tried, this test fails)."""
    pg.server_steps = path == "function"
    run, fence = driven(pg)
    outcome: list[object] = []
    with pg.engine.connect() as halter:
        halting = halter.begin()
        halter.execute(text("UPDATE runs SET last_seq = last_seq WHERE id = :rid"), {"rid": run.id})
        halter.execute(
            insert(table_of(Command)).values(
                run_id=run.id, kind="halt", created_by="ann", payload={}, created_at=utcnow()
            )
        )

        def step() -> None:
            try:
                outcome.append(
                    storage.begin_step(
                        pg, run_id=run.id, kind="model_call", payload={}, fence=fence
                    )
                )
            except Exception as error:  # what the step met, read below
                outcome.append(error)

        stepping = threading.Thread(target=step)
        stepping.start()
        deadline = time.monotonic() + 30
        with pg.engine.connect() as watcher:  # the step is waiting for the row's lock
            waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            while watcher.execute(waiting).scalar() == 0:
                assert time.monotonic() < deadline, "the step never waited for the run's row"
                assert stepping.is_alive(), f"the step did not wait: {outcome}"
                time.sleep(0.01)
        halting.commit()
        stepping.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], storage.HaltRequested), outcome
    kinds = [row[1] for row in stored(pg, run.id)]
    assert "model_call" not in kinds


def test_a_durable_write_commits_with_synchronous_commit_on(pg):
    """The test cluster runs synchronous_commit off; a tool's start (durable) turns it on for its
    own transaction only, inside the function."""
    with pg.engine.begin() as conn:
        conn.execute(text("CREATE TABLE sync_seen (kind text, setting text)"))
        conn.execute(
            text(
                "CREATE FUNCTION note_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "INSERT INTO sync_seen VALUES (NEW.kind, current_setting('synchronous_commit'));"
                " RETURN NULL; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER note_sync AFTER INSERT ON events "
                "FOR EACH ROW EXECUTE FUNCTION note_sync()"
            )
        )
    run, fence = driven(pg)
    with pg.engine.begin() as conn:
        conn.execute(text("DELETE FROM sync_seen"))
    storage.append_event(pg, run_id=run.id, kind="judge", payload={}, fence=fence)
    storage.begin_execution(pg, run_id=run.id, tool="calculator", fence=fence)
    storage.begin_step(pg, run_id=run.id, kind="model_request", payload={}, fence=fence)
    with pg.engine.connect() as conn:
        seen = [tuple(row) for row in conn.execute(text("SELECT kind, setting FROM sync_seen"))]
    assert seen == [("judge", "off"), ("tool_started", "on"), ("model_request", "off")]


def test_a_store_without_the_function_writes_on_the_driver_path(pg):
    run, fence = driven(pg)
    with pg.engine.begin() as conn:
        conn.execute(text(f"DROP FUNCTION {FUNCTION}"))
    seq = storage.begin_step(pg, run_id=run.id, kind="model_call", payload={"a": 1}, fence=fence)
    assert pg.server_steps is False
    assert stored(pg, run.id)[-1][:2] == (seq, "model_call")
    storage.halt_run(pg, run_id=run.id, by="ann")  # the driver path's checks, as before
    with pytest.raises(storage.HaltRequested):
        storage.begin_step(pg, run_id=run.id, kind="model_call", payload={}, fence=fence)
