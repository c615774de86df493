"""PostgreSQL's hot path runs prepared statements from a connection's first run of each
(storage.engine.PG_PREPARE_THRESHOLD)."""

from __future__ import annotations

import storage


def _threshold(store: storage.Store) -> object:
    pooled = store.engine.raw_connection()
    try:
        return pooled.driver_connection.prepare_threshold
    finally:
        pooled.close()


def test_a_statement_is_prepared_the_first_time_a_connection_runs_it(postgres_url):
    with storage.open_store(postgres_url) as store:
        assert _threshold(store) == 0
        pooled = store.engine.raw_connection()
        try:
            driver = pooled.driver_connection
            driver.execute("SELECT %s::int", (1,))  # once: prepared already
            prepared = driver.execute("SELECT statement FROM pg_prepared_statements").fetchall()
        finally:
            pooled.close()
    assert any("SELECT $1::int" in statement for (statement,) in prepared), prepared
