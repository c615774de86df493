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
