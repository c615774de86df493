"""`onloop policy`: show the active rules, test a call against them, write the default file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from agent_core.cli.errors import fail
from agent_core.cli.terminal_text import one_line
from agent_core.oversight import inert

# Imported lazily (fast `--help`): the policy engine loads the tools and the shell parser.
DEFAULT_FILE = (
    "onloop.toml"  # agent_core.oversight.policy_file.DEFAULT_FILE (a test keeps them equal)
)
policy_app = typer.Typer(help="Inspect and test the approval policy.", no_args_is_help=True)
PolicyPath = Annotated[
    str | None, typer.Option("--policy", help="Policy file (default ./onloop.toml).")
]


@policy_app.command("check")
def check(
    tool: Annotated[str, typer.Argument(help="Tool name, e.g. delete_files.")],
    arguments: Annotated[
        str, typer.Argument(help='Arguments as JSON, e.g. \'{"paths": ["a"]}\'')
    ] = "{}",
    autonomy: Annotated[str, typer.Option(help="manual | supervised | autonomous")] = "supervised",
    policy: PolicyPath = None,
) -> None:
    """Print the verdict for one call and the rule (or default) that produced it."""
    from agent_core.oversight.policy_check import CallCheckError, check_call
    from agent_core.oversight.policy_file import load_policy

    active = load_policy(policy)
    from agent_core.oversight.policy_check import class_line, rule_line

    try:
        checked = check_call(active, tool_name=tool, arguments_json=arguments, autonomy=autonomy)
    except CallCheckError as exc:
        raise fail(str(exc)) from exc
    verdict = checked.decision
    typer.echo(f"verdict: {verdict.verdict}")
    typer.echo(f"rule:    {one_line(rule_line(verdict))}")
    typer.echo(f"class:   {class_line(verdict)}")
    typer.echo(f"reason:  {inert.visible(verdict.reason, newlines=False)}")
    action = inert.visible(checked.description, newlines=False)  # built from the arguments
    typer.echo(f"action:  {action}  [{checked.tool.risk} risk, {autonomy}]")
    typer.echo(f"policy:  {active.source}")
    typer.echo(f"note:    {inert.visible(checked.note, newlines=False)}")


@policy_app.command("show")
def show(policy: PolicyPath = None) -> None:
    """List the active rules in order, and the oversight settings."""
    from agent_core.oversight.policy_check import describe_rule
    from agent_core.oversight.policy_file import load_policy

    active = load_policy(policy)
    typer.echo(f"policy: {active.source}")
    if not active.rules:
        typer.echo("no rules: every verdict comes from the tool's risk and the run's autonomy")
    for index, rule in enumerate(active.rules):
        # A rule exported from a project rule quotes the call it came from (a model's words).
        reason = f" — {rule.reason}" if rule.reason else ""
        line = f"{rule.label(index)}: {rule.tool}({describe_rule(rule)}) -> {rule.action}{reason}"
        typer.echo(f"{index + 1}. {one_line(line)}")
    m = active.monitors
    typer.echo(
        f"approval timeout: {active.approval_timeout_s or 'none'} · on budget: "
        f"{active.on_budget} · webhook: {'set' if active.webhook_url else 'none'}"
    )
    typer.echo(
        f"monitors: same outcome x{m.repeat_same_call}, cycles over {m.alternating_window}, "
        f"same error x{m.repeat_same_error}, same message x{m.repeat_same_message}, "
        f"nothing new x{m.no_progress}, polls still waiting x{m.poll_patience}, "
        f"window {m.window}, judge every {m.judge_every or '-'} steps (real models) -> {m.action}"
    )
    typer.echo(
        f"polls: tools {', '.join(m.poll_tools) or 'none'}; {len(m.poll_commands)} command patterns"
    )
    from agent_core.models.providers import describe_limits
    from agent_core.models.settings import load_settings

    typer.echo(f"model calls: {describe_limits(load_settings(), active.model)}")


def _is_database(target: Path) -> bool:
    if not target.is_file():  # a folder, a pipe (which an open would wait on), nothing
        return False
    try:
        with target.open("rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:  # unreadable: the write below says what is wrong
        return False


@policy_app.command("init")
def init(
    path: Annotated[str, typer.Argument(help="Where to write it.")] = DEFAULT_FILE,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write the commented default policy to ./onloop.toml to edit."""
    from agent_core.oversight.policy_file import default_policy_text

    target = Path(path)
    if _is_database(target):  # `onloop policy init onloop.db --force` would wipe every run
        raise fail(f"{target} is a SQLite database, not a policy file; choose another path")
    if target.exists() and not force:
        raise fail(f"{target} exists; pass --force to overwrite it")
    # 0600 whatever the umask: it may come to hold a webhook URL. (Not storage.private_files:
    # this command stays clear of the store's imports.)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(target, flags, 0o600)
    except OSError as error:
        raise fail(f"cannot write {target}: {error.strerror}; choose another path") from None
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(fd, 0o600)
        file.write(default_policy_text())
    typer.echo(f"wrote {target}; edit it, then check a call with: onloop policy check TOOL 'ARGS'")
