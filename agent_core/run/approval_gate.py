"""Asking a person: open an approval, wait for the decision, turn it into what may run."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import storage
from agent_core.oversight.edits import EditRefused, EditReview, review_edit
from agent_core.oversight.notify.notice import approval_notice
from agent_core.oversight.policy import RunAllowance, decide_call, exact_call_pins
from agent_core.oversight.script_pins import Pins
from agent_core.run.outcome import Outcome, ended, stopping
from agent_core.run.port import HumanDecision, RunPort
from agent_core.run.spec import RunSpec
from agent_core.tools import Tool, ToolError, args_hash
from agent_core.tools.cancel_token import CancelReason
from storage.record import ApprovalDecided, Error

# The halt watcher's one read per poll tells a waiting run of its decision (or expiry) and cancels
# its token on a halt; this is only how often the run looks again by itself should that read fail.
RECHECK_S = 30.0
INTERRUPTED_REASON = (
    "the worker stopped while this call was being carried out, so it may or may not have "
    "taken effect; it will not run again without a human's approval"
)


@dataclass(frozen=True)
class GateDecision:
    """A person's decision, with the edited call's review when they edited the arguments (or
    why the edit does not fit the tool)."""

    decision: HumanDecision
    edit: EditReview | str | None = None


def _edit_refusal(gated: GateDecision) -> str | None:
    """Why an edited approval may not run: it does not fit, the policy denies it, or it also
    claims to allow the rest of the run (the decision paths refuse that; a raw write may not)."""
    edit = gated.edit
    if edit is None:
        return None
    if isinstance(edit, str):
        return f"a person edited the arguments, but {edit}"
    if edit.refusal is not None:
        return f"a person edited the arguments, but {edit.refusal}"
    if gated.decision.allow_scope:
        return "an edited call cannot also be allowed for the rest of the run"
    return None


class ApprovalGate:
    """Approvals of one run, and what a person allowed for the rest of it."""

    def __init__(self, spec: RunSpec, port: RunPort) -> None:
        self.spec = spec
        self.port = port
        self.allowance = RunAllowance()
        self.waited_s = 0.0

    def wait_for_human(
        self, call, tool: Tool, arguments, digest, verdict, model_text, earlier=None
    ) -> GateDecision | Outcome:
        """A person's decision on this one call, or the run's end when it ends while asking.
        Only crash recovery passes `earlier`, the approval last asked for this very call; no
        other call ever sees a decision."""
        approval_id = self._reusable(earlier, forced=verdict.reason == INTERRUPTED_REASON)
        if approval_id is None:  # (a reused pending one: the claim already left the run waiting)
            try:
                approval_id = self._open_approval(
                    call, tool, arguments, digest, verdict, model_text
                )
            except storage.HaltRequested:  # nothing was written: no approval, no waiting
                return ended(self.port.token, "before the approval was asked")
        started = time.monotonic()
        with self.port.awaiting(approval_id) as wake:
            decision = self._wait(approval_id, wake)
        if isinstance(decision, Outcome):
            return decision
        if decision is None:
            return self._halted_while_waiting(call, tool, approval_id)
        waited = time.monotonic() - started
        self.waited_s += waited
        review: EditReview | str | None = None
        edit: dict[str, Any] | None = None
        if decision.decision == "approved" and decision.edited_arguments is not None:
            review = self._review(tool, arguments, decision.edited_arguments)
            edit = (
                review.as_event()
                if isinstance(review, EditReview)
                else {
                    "verdict": "invalid",
                    "reason": review,
                }
            )
        self.port.record(
            ApprovalDecided(
                approval_id=approval_id,
                tool_call_id=call.id,
                tool=tool.name,
                decision=decision.decision,
                decided_by=decision.decided_by,
                note=decision.note,
                args_hash=decision.approved_hash or digest,
                edited_arguments=decision.edited_arguments,
                allow_scope=decision.allow_scope,
                allow_rule=decision.allow_rule,
                waited_s=round(waited, 3),
                edited=True if edit is not None else None,
                edit=edit,
            )
        )
        self.port.set_status("running", reason=None)
        return GateDecision(decision, review)

    def _wait(self, approval_id: int, wake: threading.Event) -> HumanDecision | Outcome | None:
        """The decision; the run's end when the worker stops; None when a halt came first.
        Woken by the halt watcher's shared read (a decision, an expiry) or the run's token."""
        token = self.port.token
        while True:
            wake.clear()  # before the read: a decision after it wakes the wait below
            decision = self.port.decision(approval_id)
            if decision is not None:
                return decision
            if self.port.should_stop() or token.reason is CancelReason.LOST:
                return ended(token, "while waiting for a human")
            if stopping(token) or self.port.halt_requested():
                return None
            wake.wait(RECHECK_S)

    def _halted_while_waiting(self, call, tool: Tool, approval_id: int) -> Outcome:
        """A halt came while the approval waited: it is cancelled by that halt, named by whom."""
        self.port.token.cancel(CancelReason.HALTED)
        cancelled = self.port.cancel_approval(approval_id)
        by = cancelled.decided_by if cancelled else "a human"
        if cancelled is not None and cancelled.decision == "cancelled":
            self.port.record(
                ApprovalDecided(
                    approval_id=approval_id,
                    tool_call_id=call.id,
                    tool=tool.name,
                    decision="cancelled",
                    decided_by=by,
                    note=cancelled.note,
                )
            )
        return Outcome("halted", f"halted by {by} while waiting for approval")

    def _denied_now(self, tool: Tool, arguments: dict) -> str | None:
        """Why the call may not run after all: a deny rule added while it waited (a project rule
        an admin made of it) covers it. A person's yes never runs what the policy now denies,
        as an edited call's review refuses it (oversight/edits.py)."""
        verdict = decide_call(
            self.port.with_project_rules(self.spec.policy),
            tool,
            arguments,
            autonomy=self.spec.autonomy,
            workspace=self.spec.workspace,
        )
        if verdict.verdict != "deny":
            return None
        return (
            f"the policy now denies this call ({verdict.rule or 'default'}: {verdict.reason}), "
            "a rule added while it waited for a person"
        )

    def _review(self, tool: Tool, arguments: dict, edited: Any) -> EditReview | str:
        """The edited call decided again here, whoever wrote the decision (fail closed)."""
        try:
            return review_edit(
                self.port.with_project_rules(self.spec.policy),
                tool,
                arguments,
                edited,
                autonomy=self.spec.autonomy,
                workspace=self.spec.workspace,
            )
        except EditRefused as exc:
            return str(exc)

    @staticmethod
    def _reusable(earlier, *, forced: bool) -> int | None:
        """The earlier approval still stands: pending, or (unless the call may already have run,
        which needs a fresh decision) decided while nobody drove the run and not yet used."""
        if (
            earlier is None
            or earlier.status in ("expired", "cancelled")
            or earlier.consumed_at is not None
        ):
            return None
        if forced and earlier.status != "pending":
            return None
        return earlier.id

    def _open_approval(self, call, tool: Tool, arguments, digest, verdict, model_text) -> int:
        timeout = self.spec.policy.approval_timeout_s  # from the database's now (storage.clock)
        summary = tool.describe(arguments)
        approval_id = self.port.request_approval(
            tool_call_id=call.id,
            tool=tool.name,
            arguments=arguments,
            args_hash=digest,
            risk=tool.risk,
            reason=verdict.reason,
            rule=verdict.rule,
            summary=summary,
            model_text=model_text or "",
            expires_in_s=timeout or None,
            waiting_reason=f"waiting for approval of {tool.name}",
            call_class=verdict.call_class,
        )
        notice = approval_notice(
            run_id=self.spec.run_id,
            goal=self.spec.goal,
            approval_id=approval_id,
            role=verdict.approve_role,
        )
        self.port.notify(notice, self.spec.policy.notifications())
        return approval_id

    def apply(
        self, tool: Tool, arguments: dict, gated: GateDecision
    ) -> tuple[tuple[str, str] | None, dict]:
        """The arguments to run, or a refusal (text for the model, outcome) — fail closed."""
        decision = gated.decision
        if decision.decision == "expired":
            return (
                "Rejected: no human decided before the approval expired, so the action was "
                "not taken (fail closed)",
                "rejected",
            ), arguments
        if decision.decision != "approved":
            note = f": {decision.note}" if decision.note else " (no note)"
            return (f"Rejected by a human{note}", "rejected"), arguments
        refused = _edit_refusal(gated)
        if refused is None and gated.edit is None:
            refused = self._denied_now(tool, arguments)
        if refused is not None:
            self.port.record(Error(message=refused, where="approval"))
            return (f"Error: {refused}; not run", "denied"), arguments
        to_run = decision.edited_arguments if decision.edited_arguments is not None else arguments
        try:
            to_run = tool.validate(to_run)
        except ToolError as exc:
            return (
                f"Error: the approved arguments are invalid ({exc}); not run",
                "denied",
            ), arguments
        if decision.approved_hash is None or args_hash(to_run) != decision.approved_hash:
            self.port.record(
                Error(message="arguments do not match the approved hash; not run", where="approval")
            )
            return (
                "Error: the arguments do not match what the human approved; not run",
                "denied",
            ), to_run
        if decision.allow_scope:
            self.allow(
                decision.allow_scope,
                tool.name,
                args_hash(to_run),
                decision.allow_rule,
                decision.approval_id,
                decision.call_class,
                exact_call_pins(tool, to_run, self.spec.workspace),  # the scripts as approved
            )
        return None, to_run

    def allow(
        self,
        scope: str,
        tool: str,
        digest: str,
        rule: dict[str, Any] | None,
        approval_id: int | None,
        call_class: str | None = None,
        pins: Pins | None = None,
    ) -> None:
        """Add what a person allowed for the rest of the run: this exact call (while it is no
        riskier than `call_class`, its class when asked, and runs the scripts it ran then,
        unchanged: `pins`, None when not known), or the rule its scope became (capped at that
        class). An allowance stored by a release before scopes ("tool") covers only the call it
        approved: a whole tool could widen."""
        self.allowance = self.allowance.adding(
            scope, tool, digest, rule, approval_id, call_class, pins
        )

    def revoke(self, approval_id: int) -> None:
        """Withdraw what approval `approval_id` allowed (a person's revoke, or its replay)."""
        self.allowance = self.allowance.revoking(approval_id)
