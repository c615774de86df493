"""Human decisions on approvals: the one place they are checked, hashed and stored."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any, Literal

import storage
from agent_core.oversight.confinement import run_protected
from agent_core.oversight.control import ControlError, resume_run
from agent_core.oversight.edits import EditRefused, EditReview, review_edit
from agent_core.oversight.policy import ApproveRole, Policy, decide
from agent_core.oversight.project_rules import (
    ProjectRuleError,
    add_rule,
    checked_rule_dict,
    with_project_rules,
)
from agent_core.oversight.scopes import Scope, offered_scopes
from agent_core.oversight.signin_roles import AccessDenied, Person, require
from agent_core.tools import Tool, Workspace, args_hash, builtin_tools
from agent_core.tools.canonical import unpinnable
from agent_core.tools.registry import ToolLoadError, known_tools
from storage.engine import sqlite_path
from storage.models import Approval, Run

AllowScope = str | None  # a kind of oversight/scopes.py: call, prefix, folder, domain


class DecisionError(Exception):
    """A decision that cannot be recorded; the message says what to do instead."""


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def parse_edited_arguments(text: str) -> dict[str, Any]:
    """Arguments typed by a person, as a JSON object, or a DecisionError naming the fix."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise DecisionError("the edited arguments are nested too deeply; fix the JSON") from exc
    except ValueError as exc:
        raise DecisionError(
            f"the edited arguments are not valid JSON ({exc}); fix the JSON"
        ) from exc
    if not isinstance(value, dict):
        raise DecisionError('the edited arguments must be a JSON object, like {"path": "a.txt"}')
    problem = unpinnable(value)  # an approval pins its arguments by their hash
    if problem is not None:
        raise DecisionError(f"the edited arguments cannot be approved: {problem}")
    return value


def approve(
    store: storage.Store,
    *,
    approval_id: int,
    by: str | Person,
    note: str | None = None,
    edited_arguments: dict[str, Any] | None = None,
    allow_scope: AllowScope = None,
    for_project: bool = False,
    shown_scope: str | None = None,
) -> Approval:
    """Approve exactly these arguments: the original, or a person's edit, which is a new call
    (checked against the tool and decided by the run's policy: see oversight/edits.py).

    With `allow_scope`, calls like it are allowed for the rest of the run; with `for_project`
    too (an admin's), in every run of this store from now on, as a project rule. `shown_scope`:
    the scope's words as the person read them (a page, a prompt); the scope is computed again
    here, and if its words differ now (the workspace changed in between: a folder became a
    link), nothing is decided: the yes was for what was shown."""
    who = _approver(by)
    approval = _pending(store, approval_id)
    scope = _scope(store, approval, allow_scope)
    if scope is not None and shown_scope is not None and scope.label != shown_scope:
        raise DecisionError(
            f"what this scope allows changed since it was shown (it was: {shown_scope}; it is "
            f"now: {scope.label}); nothing was decided, look at the request again"
        )
    project_rule = _project_rule(by, scope) if for_project else None
    review = _reviewed(store, approval, edited_arguments)
    if review is None:
        _holds(by, _role_for_original(store, approval), "the policy asks an admin about it")
        to_run = approval.arguments
    else:
        if allow_scope is not None:
            raise DecisionError(
                "an edited call cannot also be allowed for the rest of the run; approve the "
                "edit alone (later calls ask again), or allow the original without editing"
            )
        _holds(by, review.role, review.why_role())
        to_run = review.arguments
    decided = _decide(
        store,
        approval_id=approval_id,
        decision="approved",
        decided_by=who,
        note=note or None,
        edited_arguments=to_run if review is not None else None,
        approved_hash=args_hash(to_run),
        allow_scope=scope.kind if scope is not None else None,
        allow_rule=scope.rule_dict() if scope is not None else None,
    )
    if project_rule is not None:
        add_rule(store, project_rule, by=who, from_approval_id=approval_id, note=note or None)
    return decided


def _project_rule(by: str | Person, scope: Scope | None) -> dict[str, Any]:
    """The project rule a scope becomes; only an admin adds one (the CLI's user holds the store)."""
    if not isinstance(by, str) and not by.may("admin"):
        has = f"the {by.role} role" if by.role else "no role"
        raise DecisionError(
            f"allowing calls in the whole project needs the admin role and you have {has}; "
            "allow it for this run instead, or ask an onloop admin"
        )
    rule = scope.rule_dict() if scope is not None else None
    if scope is None or rule is None:
        raise DecisionError(
            "a project rule needs a scope wider than this exact call (a command prefix, a "
            "folder, files or a domain); choose one, or allow it for this run only"
        )
    label = scope.label
    rule.update(
        name=f"allowed in this project: {label} (up to {rule.get('up_to')})",
        reason=f"an admin allowed {label} in this project, up to {rule.get('up_to')} calls",
    )
    try:
        return checked_rule_dict(rule)
    except ProjectRuleError as exc:
        raise DecisionError(f"this scope cannot be a project rule: {exc}") from exc


def scopes_of(store: storage.Store, approval: Approval) -> list[Scope]:
    """What a person may allow for the rest of the run with this approval, narrowest first:
    computed here from the call as asked, never taken from the page or the prompt."""
    run = storage.get_run(store, run_id=approval.run_id)
    try:
        kinds = _edited_tool(store, approval).argument_kinds
    except DecisionError:
        kinds = None  # a tool not known here: its arguments are read by their names
    return offered_scopes(
        approval.tool, approval.risk, approval.arguments, kinds, _workspace_of(store, run)
    )


def _scope(store: storage.Store, approval: Approval, kind: AllowScope) -> Scope | None:
    if kind is None:
        return None
    if kind == "arguments":  # the name before scopes
        kind = "call"
    offered = scopes_of(store, approval)
    for scope in offered:
        if scope.kind == kind:
            return scope
    names = ", ".join(s.kind for s in offered)
    if kind == "tool":
        raise DecisionError(
            "a whole tool can no longer be allowed for the run (it let riskier calls of the same "
            f"tool through unasked); allow one of the scopes offered for this call: {names}"
        )
    raise DecisionError(f"{kind!r} is not a scope offered for this call; choose one of: {names}")


def review_of(store: storage.Store, approval: Approval, edited: dict[str, Any]) -> EditReview:
    """The edited call checked and decided as the worker will (for a page or the CLI to show);
    DecisionError when it does not fit the tool."""
    run = storage.get_run(store, run_id=approval.run_id)
    tool = _edited_tool(store, approval)
    try:
        return review_edit(
            _policy_now(store, run),
            tool,
            approval.arguments,
            edited,
            autonomy=run.autonomy,
            workspace=_workspace_of(store, run),
        )
    except EditRefused as exc:
        raise DecisionError(str(exc)) from exc


def _reviewed(
    store: storage.Store, approval: Approval, edited: dict[str, Any] | None
) -> EditReview | None:
    """The review of a real edit (None when nothing changed); DecisionError when it may not run."""
    if edited is None:
        return None
    review = review_of(store, approval, edited)
    if review.arguments == approval.arguments:
        return None
    if review.refusal is not None:
        raise DecisionError(
            f"{review.refusal}; change the arguments, approve the original, or reject with a note"
        )
    return review


def _holds(by: str | Person, role: ApproveRole, why: str) -> None:
    """A signed-in person approving needs `role` (the CLI's OS user holds the store itself)."""
    if role == "approver" or isinstance(by, str) or by.may(role):
        return
    has = f"the {by.role} role" if by.role else "no role"
    raise DecisionError(
        f"approving this needs the {role} role ({why}) and you have {has}; ask an onloop "
        f"{role}, or reject with a note"
    )


def role_to_approve(store: storage.Store, approval: Approval) -> ApproveRole:
    """The role deciding this approval needs, as the dashboard's buttons and the decision check
    it (a notification's link asks the same)."""
    return _role_for_original(store, approval)


def _role_for_original(store: storage.Store, approval: Approval) -> ApproveRole:
    """The role the call as asked needs: only a policy with `approve_role` rules can ask more
    than an approver; a call it cannot decide again here needs the admin (fail closed)."""
    run = storage.get_run(store, run_id=approval.run_id)
    policy = _policy_now(store, run)
    if not any(rule.approve_role == "admin" for rule in policy.rules):
        return "approver"
    try:
        tool = _edited_tool(store, approval)
    except DecisionError:
        return "admin"
    decision = decide(
        policy,
        tool=tool.name,
        risk=tool.risk,
        arguments=approval.arguments,
        autonomy=run.autonomy,
        kinds=tool.argument_kinds,
        workspace=_workspace_of(store, run),
    )
    if decision.verdict == "allow":
        return "approver"
    return decision.approve_role if decision.verdict == "ask" else "admin"


def _policy_of(run: Run) -> Policy:
    return Policy.model_validate(run.policy or {})


def _policy_now(store: storage.Store, run: Run) -> Policy:
    """The run's policy with the project's rules as they are now, as its worker decides."""
    return with_project_rules(_policy_of(run), storage.active_project_rules(store))


def _workspace_of(store: storage.Store, run: Run) -> Workspace | None:
    """The run's workspace as its worker sees it, with onloop's own files for the run (its
    policy file, the sign-in file, the store under whatever name): an edit into one of them is
    refused when it is decided, not only in the worker."""
    if not run.workspace:
        return None
    protected = run_protected(_policy_of(run), sqlite_path(store.url))
    return Workspace(Path(run.workspace), protected)


def reject(
    store: storage.Store, *, approval_id: int, by: str | Person, note: str | None = None
) -> Approval:
    who = _approver(by)
    _pending(store, approval_id)
    return _decide(
        store, approval_id=approval_id, decision="rejected", decided_by=who, note=note or None
    )


def _approver(by: str | Person) -> str:
    """Who decides, as the audit names them; a signed-in person needs the approver role."""
    try:
        return require(by, "approver")
    except AccessDenied as exc:
        raise DecisionError(str(exc)) from exc


def _decide(store: storage.Store, **decision: Any) -> Approval:
    """Record it; losing a race to another decider, or the deadline, is a DecisionError."""
    try:
        return storage.decide_approval(store, **decision)
    except storage.InvalidState as exc:
        raise DecisionError(str(exc)) from exc


def decide_many(
    store: storage.Store,
    *,
    approval_ids: list[int],
    decision: Literal["approve", "reject"],
    by: str | Person,
    note: str | None = None,
) -> list[str]:
    """Decide several approvals; returns one message per approval that could not be decided."""
    problems = []
    for approval_id in approval_ids:
        try:
            if decision == "approve":
                approve(store, approval_id=approval_id, by=by, note=note)
            else:
                reject(store, approval_id=approval_id, by=by, note=note)
        except (DecisionError, storage.StoreError) as exc:
            problems.append(f"approval {approval_id}: {exc}")
    return problems


def _pending(store: storage.Store, approval_id: int) -> Approval:
    approval = storage.get_approval(store, approval_id=approval_id)
    if approval.status != "pending":
        who = f" by {approval.decided_by}" if approval.decided_by else ""
        raise DecisionError(f"approval {approval_id} was already {approval.status}{who}")
    ended = storage.get_run(store, run_id=approval.run_id).status
    if ended in storage.FINISHED_STATUSES:
        raise DecisionError(
            f"run {approval.run_id} has already ended ({ended}); this approval can no longer be used"
        )
    return approval


def not_driven(store: storage.Store, approval: Approval) -> str | None:
    """Why nothing acts on a decision about this approval right now (its run stopped), or None."""
    status = storage.get_run(store, run_id=approval.run_id).status
    if status == "interrupted":
        return (
            f"run {approval.run_id} is interrupted (its worker stopped): deciding queues it to "
            f"resume, and it uses the decision (`onloop resume {approval.run_id}` does the same)"
        )
    return None


def resume_for_decision(
    store: storage.Store, approval: Approval, *, by: str | Person
) -> str | None:
    """After a decision on an interrupted run's approval, queue the run to resume so the decision
    takes effect (never a silent no-op); what happened, for the person, or None."""
    run = storage.get_run(store, run_id=approval.run_id)
    if run.status != "interrupted":
        return None
    try:
        resume_run(store, run_id=run.id, by=by, seen_status="interrupted")
    except (ControlError, AccessDenied) as exc:
        return f"run {run.id} was not resumed ({exc}); `onloop resume {run.id}` resumes it"
    return f"run {run.id} was interrupted: it is queued to resume and will use this decision"


def _edited_tool(store: storage.Store, approval: Approval) -> Tool:
    tool_name = approval.tool
    tool = builtin_tools().get(tool_name) or _run_tool(store, approval.run_id, tool_name)
    if tool is None:
        raise DecisionError(f"tool {tool_name!r} is not known here; approve without editing")
    return tool


def _run_tool(store: storage.Store, run_id: str, tool_name: str) -> Tool | None:
    """A tool of the run's own registry (its policy's modules and MCP servers), for an edit."""
    policy = _policy_of(storage.get_run(store, run_id=run_id))
    try:
        return known_tools(policy.tools, policy.mcp_servers).get(tool_name)
    except ToolLoadError as exc:
        raise DecisionError(f"{exc}; approve without editing") from exc
