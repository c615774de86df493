"""Which database errors a worker waits out, and which it treats as bugs."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from storage.transient import brief, is_transient, retrying


class _PgError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("x", {}, sqlite3.OperationalError("database is locked")), True),
        (OperationalError("x", {}, sqlite3.OperationalError("no such table: runs")), False),
        (OperationalError("x", {}, _PgError("terminating connection", "57P01")), True),
        (OperationalError("x", {}, _PgError("the database system is starting up", "57P03")), True),
        (OperationalError("x", {}, _PgError("could not serialize access", "40001")), True),
        (OperationalError("x", {}, _PgError("connection refused", "08006")), True),
        (ProgrammingError("x", {}, _PgError("syntax error", "42601")), False),
        (IntegrityError("x", {}, _PgError("duplicate key", "23505")), False),
        (ValueError("a bug"), False),
    ],
)
def test_transient_errors_are_told_from_bugs(error, transient):
    assert is_transient(error) is transient


def test_retrying_waits_out_a_transient_error_and_says_so(caplog):
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError("x", {}, sqlite3.OperationalError("database is locked"))
        return "read"

    log = logging.getLogger("test.transient")
    with caplog.at_level(logging.WARNING, logger="test.transient"):
        assert retrying(flaky, what="reading", log=log) == "read"
    assert len(attempts) == 3
    assert "reading: the database is unavailable (OperationalError: database is locked)" in (
        caplog.text
    )


def test_retrying_never_repeats_after_a_bug():
    attempts = []

    def broken() -> None:
        attempts.append(1)
        raise ProgrammingError("SELECT nonsense", {}, _PgError("syntax error", "42601"))

    with pytest.raises(ProgrammingError):
        retrying(broken, what="reading", log=logging.getLogger("test"))
    assert len(attempts) == 1
    assert brief(ProgrammingError("SELECT", {}, _PgError("syntax error\nLINE 1", "42601"))) == (
        "_PgError: syntax error"
    )
