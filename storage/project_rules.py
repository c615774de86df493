"""Rules people add to the project (every run of this store), versioned and audited.

Each change is a new row: adding a rule writes version 1 of a new key, editing writes the next
version with the new rule, revoking writes the next version marked revoked. Rows are never
updated or deleted (schema 8's triggers), so the table is the rule's whole history: who, when,
from which approval, what it said.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from storage.driver_sql import driver_read
from storage.engine import Store, read_session, write_session
from storage.errors import NotFound, StoreError
from storage.models import ProjectRule, table_of

_rules = table_of(ProjectRule)


def add_project_rule(
    store: Store,
    *,
    rule: dict[str, Any],
    by: str,
    from_approval_id: int | None = None,
    note: str | None = None,
) -> ProjectRule:
    """Version 1 of a new project rule (the caller has checked `rule` is a valid policy rule)."""
    made = ProjectRule(
        rule_key=uuid.uuid4().hex[:8],
        version=1,
        rule=copy.deepcopy(rule),
        created_by=by,
        from_approval_id=from_approval_id,
        note=note,
    )
    with write_session(store) as session:
        session.add(made)
    return made


def edit_project_rule(
    store: Store, *, key: str, rule: dict[str, Any], by: str, note: str | None = None
) -> ProjectRule:
    """The next version of an active rule, saying `rule` now."""
    return _next_version(store, key, by, note, rule=rule)


def revoke_project_rule(store: Store, *, key: str, by: str, note: str | None = None) -> ProjectRule:
    """The next version, revoked: from now on the rule decides nothing."""
    return _next_version(store, key, by, note, status="revoked")


def _next_version(
    store: Store,
    key: str,
    by: str,
    note: str | None,
    *,
    rule: dict[str, Any] | None = None,
    status: str = "active",
) -> ProjectRule:
    with write_session(store) as session:
        latest = session.scalars(
            select(ProjectRule)
            .where(col(ProjectRule.rule_key) == key)
            .order_by(col(ProjectRule.version).desc())
            .limit(1)
        ).first()
        if latest is None:
            raise NotFound(f"no project rule {key!r}; `onloop rules list` names them")
        if latest.status == "revoked":
            raise StoreError(
                f"project rule {key} was revoked by {latest.created_by}; add a new one"
            )
        made = ProjectRule(
            rule_key=key,
            version=latest.version + 1,
            rule=copy.deepcopy(rule if rule is not None else latest.rule),
            status=status,
            created_by=by,
            from_approval_id=latest.from_approval_id,
            note=note,
        )
        session.add(made)
    return made


def active_project_rules(store: Store) -> list[ProjectRule]:
    """The latest version of every rule that is not revoked, oldest rule first."""
    latest = (
        select(_rules.c.rule_key, func.max(_rules.c.version).label("version"))
        .group_by(_rules.c.rule_key)
        .subquery()
    )
    query = (
        select(ProjectRule)
        .join(
            latest,
            (col(ProjectRule.rule_key) == latest.c.rule_key)
            & (col(ProjectRule.version) == latest.c.version),
        )
        .where(col(ProjectRule.status) == "active")
        .order_by(col(ProjectRule.id))
    )
    with read_session(store) as session:
        found = list(session.scalars(query))
    first = _first_ids(store, [r.rule_key for r in found])
    return sorted(found, key=lambda r: first.get(r.rule_key, 0))


def _first_ids(store: Store, keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    query = (
        select(_rules.c.rule_key, func.min(_rules.c.id))
        .where(_rules.c.rule_key.in_(keys))
        .group_by(_rules.c.rule_key)
    )
    with read_session(store) as session:
        return {key: int(first) for key, first in session.execute(query)}


def project_rule_history(store: Store, *, key: str) -> list[ProjectRule]:
    """Every version of one rule, oldest first."""
    query = (
        select(ProjectRule)
        .where(col(ProjectRule.rule_key) == key)
        .order_by(col(ProjectRule.version))
    )
    with read_session(store) as session:
        found = list(session.scalars(query))
    if not found:
        raise NotFound(f"no project rule {key!r}; `onloop rules list` names them")
    return found


_MARK = select(func.max(_rules.c.id))


def project_rules_mark(store: Store) -> int:
    """A number that changes whenever a rule is added, edited or revoked (the newest row's id):
    a reader keeps the rules it read until this moves."""
    return int(driver_read(store, _MARK, {})[0][0] or 0)  # one round trip, a step's cost
