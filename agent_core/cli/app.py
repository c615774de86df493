"""The `onloop` command line: run goals, serve workers and the dashboard, steer and inspect runs."""

from __future__ import annotations

# Fast start: this module imports only typer, the standard library and our light modules (the
# command groups, errors, event lines, inert text). `--help`, `policy init` and other commands
# that never touch the store stay quick; storage (SQLAlchemy), the policy engine, the worker, the
# tools, the model SDKs and the dashboard are imported inside the commands that need them
# (tests/cli/test_fast_start.py holds this). Every import inside a function here is one of those.
import io
import logging
import sys
import threading
from typing import Annotated

import typer

from agent_core.cli import decide_commands, inspect_commands, start_commands, steer_commands
from agent_core.cli.errors import read_only_store, user_errors
from agent_core.cli.output import (
    BROKEN_PIPE_EXIT,
    OUTPUT_FAILED_EXIT,
    OutputLost,
    drop_stdout,
    guard_stdout,
)
from agent_core.cli.policy import policy_app
from agent_core.cli.rules import rules_app
from agent_core.cli.terminal_text import one_line
from agent_core.cli.tools import tools_command
from agent_core.oversight import inert

app = typer.Typer(
    name="onloop",
    help="A control room for autonomous LLM agents. Start with: onloop up",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: "[model]" is a policy table, not markup
)


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"onloop {version('onloop')}")
        except PackageNotFoundError:  # a source checkout that was never installed
            typer.echo("onloop (not installed: run `pip install -e .`)")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print onloop's version and exit."
        ),
    ] = False,
) -> None:
    """A control room for autonomous LLM agents. Start with: onloop up"""


# In the order `onloop --help` lists them (commands first, then the groups: typer's order).
app.command("tools")(tools_command)
app.command()(start_commands.run)
app.command()(start_commands.worker)
app.command()(start_commands.up)
app.command("runs")(inspect_commands.list_runs)
app.command()(inspect_commands.show)
app.command("approve")(decide_commands.approve_cmd)
app.command("reject")(decide_commands.reject_cmd)
app.command()(steer_commands.halt)
app.command()(steer_commands.pause)
app.command()(steer_commands.revoke)
app.command()(steer_commands.guide)
app.command()(steer_commands.resume)
app.command()(inspect_commands.audit)
app.command()(inspect_commands.insights)
app.add_typer(policy_app, name="policy")
app.add_typer(rules_app, name="rules")


def _inert_log_lines() -> None:
    """Every log line this process writes goes to stderr made inert (telemetry/logs.py), a
    library's too: the MCP SDK logs what a server sent ("Unknown SSE event: <name>"), and
    Python's last-resort handler, used while nothing is configured, prints it raw. `onloop
    worker` and `onloop up` configure it again with the chosen format and the policy's secrets."""
    from agent_core.telemetry import logs

    logs.configure("human")
    threading.excepthook = _thread_failed


_log = logging.getLogger("onloop.cli")


def _thread_failed(args: threading.ExceptHookArgs) -> None:
    """A thread's uncaught error, as Python would say it, through the inert log lines: its
    traceback quotes whatever the failing code was handed."""
    if issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "unknown"
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
    _log.error("Exception in thread %s:", name, exc_info=exc_info)  # type: ignore[arg-type]


def _usage_error(exc: typer.TyperException) -> None:
    """typer's message for a usage mistake, every character it quotes shown, not obeyed: its
    click escapes C0 and C1 controls in an argument it quotes back, not bidirectional controls,
    zero-width characters or line separators."""
    said = io.StringIO()
    show = getattr(exc, "show", None)
    if show is not None:
        show(file=said)
    else:  # pragma: no cover - every typer usage error is a click exception with show()
        said.write(f"Error: {exc.format_message()}\n")
    typer.echo(inert.visible(said.getvalue()), err=True, nl=False)


def main() -> None:
    guard_stdout()  # a closed or full standard output is said, not a silent exit 0 or a traceback
    bad = inert.undecodable(sys.argv[1:])
    if bad is not None:  # bytes that are not UTF-8 would reach the store and fail there
        typer.echo(
            f"error: {inert.visible(bad)} is not UTF-8 text; onloop takes UTF-8 arguments", err=True
        )
        sys.exit(2)
    _inert_log_lines()
    try:
        # Not standalone: typer would print its usage errors itself; they are shown inert here.
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:  # Ctrl-C or Ctrl-D at a prompt, as typer said it
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    except typer.TyperException as exc:
        _usage_error(exc)
        sys.exit(getattr(exc, "exit_code", 2))
    except OutputLost as lost:
        drop_stdout()
        if lost.reader_gone:
            sys.exit(BROKEN_PIPE_EXIT)
        typer.echo(f"error: {lost.describe()}", err=True)
        sys.exit(OUTPUT_FAILED_EXIT)
    except Exception as exc:
        if (refused := read_only_store(exc)) is not None:  # readable, so it opened; not writable
            typer.echo(f"error: {one_line(refused)}", err=True)
            sys.exit(2)
        if not isinstance(exc, user_errors()):  # a bug: its traceback in full, made inert
            _log.error("onloop stopped on an unexpected error:", exc_info=exc)
            sys.exit(1)
        typer.echo(f"error: {one_line(exc)}", err=True)
        # 3: the store is a newer onloop's, 4: it was deleted or replaced; a supervisor does
        # not restart such a worker
        import storage
        from agent_core.worker.supervisor import NEWER_STORE_EXIT, STORE_CHANGED_EXIT

        if isinstance(exc, storage.StoreNewer):
            sys.exit(NEWER_STORE_EXIT)
        sys.exit(STORE_CHANGED_EXIT if isinstance(exc, storage.StoreChanged) else 2)
    sys.exit(code if isinstance(code, int) else 0)
