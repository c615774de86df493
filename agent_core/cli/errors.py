"""How the command line ends on a user's mistake: one line on stderr, never a traceback."""

from __future__ import annotations

import typer

from agent_core.oversight import inert


def fail(message: str, code: int = 2, *, lines: bool = False) -> typer.Exit:
    """The error on one line (it may quote a model's words, a file or folder name anyone chose:
    a newline in them is shown, so it cannot draw a line of its own); `lines=True` only for a
    message that is several lines by nature (another program's output)."""
    typer.echo(f"error: {inert.visible(message, newlines=lines, tabs=lines)}", err=True)
    return typer.Exit(code)


def read_only_store(exc: BaseException) -> str | None:
    """What to say when a write was refused because the store is read-only (a SQLite file or
    folder without write permission, a PostgreSQL standby), else None. The transaction was
    refused whole: nothing of it was written."""
    from sqlalchemy.exc import DBAPIError

    orig = exc.orig if isinstance(exc, DBAPIError) else None
    if orig is None:
        return None
    said = str(orig)
    if "readonly database" not in said and getattr(orig, "sqlstate", None) != "25006":
        return None
    return (
        f"the store is read-only ({said}); nothing was written. Make its file and folder "
        "writable, or pass --db to a store this user can write"
    )


def user_errors() -> tuple[type[Exception], ...]:
    """The errors a user's input can cause: printed as one line, never as a traceback."""
    # Imported here, when a command fails or runs, not for `--help` (fast start: the store
    # loads SQLAlchemy, the policy engine the tools).
    import storage
    from agent_core.models.base import ModelError
    from agent_core.oversight import control
    from agent_core.oversight.decisions import DecisionError
    from agent_core.oversight.policy_file import PolicyError

    return (storage.StoreError, control.ControlError, DecisionError, ModelError, PolicyError)
