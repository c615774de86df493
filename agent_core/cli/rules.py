"""`onloop rules`: the project's rules (every run of this store), their history, export and the
rules suggested by past decisions."""

from __future__ import annotations

from typing import Annotated

import typer

from agent_core.cli.errors import fail
from agent_core.oversight import inert

rules_app = typer.Typer(
    help="Project rules: what people allowed (or forbade) for every run of this store.",
    no_args_is_help=True,
)
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="SQLite file (or database URL); default ./onloop.db or $ONLOOP_DATABASE_URL"
    ),
]
Key = Annotated[str, typer.Argument(help="The rule's key, as `onloop rules list` shows it.")]


def _store(db: str | None):
    from agent_core.cli.stores import open_existing_db

    return open_existing_db(db)


def _line(row) -> str:
    from agent_core.oversight.policy import Rule
    from agent_core.oversight.policy_check import describe_rule

    rule = Rule.model_validate(row.rule)
    ceiling = f" up to {rule.up_to}" if rule.up_to else ""
    origin = f", from approval {row.from_approval_id}" if row.from_approval_id else ""
    when = f"{row.created_at:%Y-%m-%d %H:%M}"
    what = f"{rule.action}{ceiling}: {rule.tool} {describe_rule(rule)}"
    return inert.visible(
        f"{row.rule_key} v{row.version}  {what}  ({row.created_by}, {when}{origin})",
        newlines=False,
    )


@rules_app.command("list")
def list_rules(db: DbOption = None) -> None:
    """The active project rules, oldest first."""
    import storage

    rows = storage.active_project_rules(_store(db))
    if not rows:
        typer.echo(
            "no project rules; an admin adds one with `onloop approve RUN --allow SCOPE "
            "--project`, or from a suggestion (`onloop rules suggest`)"
        )
        return
    for row in rows:
        typer.echo(_line(row))


@rules_app.command("history")
def history(key: Key, db: DbOption = None) -> None:
    """Every version of one rule: who changed it, when, and what it said."""
    import storage

    for row in storage.project_rule_history(_store(db), key=key):
        typer.echo(f"{_line(row)}  [{row.status}]")


@rules_app.command("revoke")
def revoke(key: Key, db: DbOption = None) -> None:
    """Revoke a project rule: from the next call of every run, it decides nothing."""
    import storage
    from agent_core.oversight.decisions import current_user

    row = storage.revoke_project_rule(_store(db), key=key, by=current_user())
    typer.echo(f"revoked project rule {row.rule_key} (version {row.version})")


@rules_app.command("export")
def export(db: DbOption = None) -> None:
    """The active project rules as [[rules]] entries to paste into onloop.toml."""
    import storage
    from agent_core.oversight.project_rules import ProjectRuleError, export_toml

    try:
        text = export_toml(storage.active_project_rules(_store(db)))
    except ProjectRuleError as exc:  # a value TOML cannot hold (a lone surrogate)
        raise fail(str(exc)) from exc
    typer.echo(inert.visible(text), nl=False)


@rules_app.command("suggest")
def suggest_rules(
    add: Annotated[
        int | None, typer.Option(help="Add the suggestion with this number as a project rule.")
    ] = None,
    min_approvals: Annotated[int, typer.Option(help="Approvals a pattern needs.")] = 5,
    db: DbOption = None,
) -> None:
    """Rules past decisions suggest: patterns approved every time, never rejected or edited."""
    from agent_core.oversight.decisions import current_user
    from agent_core.oversight.project_rules import add_rule
    from agent_core.oversight.suggestions import suggest

    if min_approvals < 1:
        raise fail("--min-approvals must be at least 1")
    store = _store(db)
    found = suggest(store, min_approvals=min_approvals)
    if add is not None:
        if not 1 <= add <= len(found):
            raise fail(f"there is no suggestion {add}; `onloop rules suggest` numbers them")
        row = add_rule(store, found[add - 1].rule_dict(), by=current_user())
        label = inert.visible(found[add - 1].label, newlines=False)  # quotes approved calls
        typer.echo(f"added project rule {row.rule_key}: {label}")
        return
    if not found:
        typer.echo(f"no suggestions: no pattern was approved {min_approvals} times in 2 runs yet")
        return
    for number, suggestion in enumerate(found, 1):
        typer.echo(f"{number}. {inert.visible(suggestion.label, newlines=False)}")
    typer.echo("add one with: onloop rules suggest --add N")
