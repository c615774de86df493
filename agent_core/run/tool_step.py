"""One tool call through the policy: verdict, approval when asked, execution, and their record."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import storage
from agent_core.models.base import ToolCallRequest
from agent_core.oversight.confinement import run_disk_budget, tool_context
from agent_core.oversight.monitors import RepetitionMonitor, Trip
from agent_core.oversight.policy import PolicyDecision, decide, repeatable
from agent_core.run.approval_gate import INTERRUPTED_REASON, ApprovalGate
from agent_core.run.call_effects import Effects
from agent_core.run.conversation import not_run_reason, tool_message
from agent_core.run.outcome import Outcome, ended, stopping
from agent_core.run.port import RunPort
from agent_core.run.spec import RunSpec
from agent_core.run.tool_runner import run_tool
from agent_core.run.unfinished_calls import halted_after, last_turn, unfinished_calls
from agent_core.run.work_ledger import WorkLedger
from agent_core.tools import Tool, ToolError, args_hash
from agent_core.tools.builtins import disk_growth_bound
from agent_core.tools.cancel_token import CancelReason
from agent_core.tools.canonical import unpinnable
from agent_core.tools.validate import loads_json
from storage.record import (
    AllowanceRevoked,
    ApprovalDecided,
    Error,
    ModelCall,
    ToolCall,
    ToolResult,
    parse_as,
    parse_event,
)
from storage.vocabulary import Verdict


@dataclass(frozen=True)
class Edit:
    """A person approved the call with other arguments than the model asked for."""

    by: str
    requested: dict


def edited_note(by: str, tool: str, ran: dict) -> str:
    shown = json.dumps(ran, ensure_ascii=False, sort_keys=True)
    return f"\n\n[a person edited the arguments before approving ({by}); what ran: {tool}({shown})]"


class ToolStep:
    def __init__(self, spec: RunSpec, port: RunPort, monitor: RepetitionMonitor) -> None:
        self.spec = spec
        self.port = port
        self.monitor = monitor
        self.gate = ApprovalGate(spec, port)
        self._prior: list[Any] = []
        self.ledger = WorkLedger(spec.workspace, spec.tools)  # what every call came to, by target
        self.disk = run_disk_budget(spec.policy, spec.workspace.real_root)
        self._grew: int | None = None  # what the last call can have added to the disk at most

    def disk_trip(self) -> Trip | None:
        """The run's disk budget, checked after each tool call: spent, the run stops here."""
        reason = self.disk.exceeded(self._grew)
        self._grew = None
        return Trip("budget_disk", reason) if reason is not None else None

    # -- halts and resumes ---------------------------------------------------------------
    def stopped(self) -> Outcome | None:
        """The run's end when it must stop now (the worker's stop, a halt: the watcher's fresh
        view, else one read; either cancels the run's token), else None."""
        token = self.port.token
        if not self.port.should_stop() and not stopping(token) and self.port.halt_requested():
            token.cancel(CancelReason.HALTED)
        return ended(token) if stopping(token) else None

    def replay(self, events: list[Any]) -> None:
        """Restore what a human allowed for the rest of the run, keyed on approval ids: only an
        approval of this run, approved with a scope, counts (its tool and approved hash, or the
        rule its scope became), until an allowance_revoked event withdraws it."""
        self._prior = events
        self.ledger.replay(events)
        for event in events:
            decided = parse_event(event.kind, event.payload)
            if isinstance(decided, AllowanceRevoked) and isinstance(decided.approval_id, int):
                self.gate.revoke(decided.approval_id)
                continue
            if not isinstance(decided, ApprovalDecided) or decided.decision != "approved":
                continue
            if not decided.allow_scope or not isinstance(decided.approval_id, int):
                continue
            approval = self.port.approval(decided.approval_id)
            if approval.edited_arguments is not None:  # never an allowance (see ApprovalGate)
                continue
            if approval.consumed_at is None and halted_after(event.seq, events):
                continue  # its own call never ran: the halt refused it, and a resume asks again
            if approval.run_id == self.spec.run_id and approval.status == "approved":
                scope = approval.allow_scope or ""
                self.gate.allow(
                    scope,
                    approval.tool,
                    approval.approved_hash or "",
                    approval.allow_rule,
                    approval.id,
                    approval.call_class,
                )

    def finish_interrupted(self) -> list[dict[str, Any]] | Outcome:
        """Results for the last model turn's calls that never got one (the run was interrupted):
        a call that may have run goes back to a human; the others go through the policy again.
        The run's end instead when it ends on the way."""
        turn = last_turn(self._prior)
        if turn is None:
            return []
        approvals = self.port.approvals_requested_after(turn.seq)
        results = []
        for item in unfinished_calls(self._prior, approvals):
            result = self.handle(
                item.call,
                item.text,
                force_ask=INTERRUPTED_REASON if self._ask_again(item) else None,
                already_recorded=item.recorded,
                earlier_approval=item.approval,
                not_run=not_run_reason(parse_as(ModelCall, turn.payload).finish_reason),
            )
            if isinstance(result, Outcome):
                return result
            results.append(result)
        return results

    def _ask_again(self, item: Any) -> bool:
        """A call that may have run goes to a human, unless the policy marks it repeatable."""
        tool = self.spec.tools.get(item.call.name)
        risk = tool.risk if tool is not None else None
        return item.may_have_run and not repeatable(self.spec.policy, item.call.name, risk)

    # -- one call ------------------------------------------------------------------------
    def handle(
        self,
        call: ToolCallRequest,
        model_text: str,
        *,
        not_run: str | None = None,
        force_ask: str | None = None,
        already_recorded: bool = False,
        earlier_approval: Any = None,
    ) -> dict[str, Any] | Outcome:
        """The call's result message for the model, or the run's end when it ends here."""
        end = self.stopped()
        if end is not None:
            return end
        tool, arguments, problem = self._parse(call) if not_run is None else (None, None, not_run)
        if problem is not None:
            # One cut-off reply is one event, handled by the cut-off rule: its calls' identical
            # "not run" errors must not look like a model repeating the same error.
            return self._invalid(call, problem, already_recorded, watched=not_run is None)
        assert tool is not None and arguments is not None
        digest = args_hash(arguments)
        verdict = self._verdict(tool, arguments, digest, force_ask)
        recorded: ToolCall | None = None
        if not already_recorded:
            recorded = self._call_event(
                call,
                verdict.verdict,
                verdict.reason,
                verdict.rule,
                arguments,
                digest,
                verdict.call_class,
            )
            if verdict.verdict in ("deny", "ask"):
                self.port.record(recorded)
                recorded = None  # else it is written with the tool's start: nothing between
        if verdict.verdict == "deny":
            text = f"Denied by policy ({verdict.rule or 'default'}): {verdict.reason}"
            return self._result(call, text, ok=False, outcome="denied")
        approval_id = None
        if verdict.verdict == "ask":
            gated = self.gate.wait_for_human(
                call, tool, arguments, digest, verdict, model_text, earlier_approval
            )
            if isinstance(gated, Outcome):
                return gated
            asked = arguments
            refusal, arguments = self.gate.apply(tool, arguments, gated)
            if refusal is not None:
                return self._result(call, refusal[0], ok=False, outcome=refusal[1])
            approval_id = gated.decision.approval_id
            if args_hash(arguments) != digest:
                edit = Edit(gated.decision.decided_by, asked)
                return self._execute(call, tool, arguments, approval_id, edit)
        return self._execute(call, tool, arguments, approval_id, call_event=recorded)

    def _parse(self, call: ToolCallRequest) -> tuple[Tool | None, dict | None, str | None]:
        tool = self.spec.tools.get(call.name)
        if tool is None:
            names = ", ".join(sorted(self.spec.tools)) or "none"
            return None, None, f"Error: unknown tool {call.name!r}; the tools you have: {names}"
        sent = call.arguments if len(call.arguments) <= 300 else call.arguments[:297] + "..."
        try:
            arguments = loads_json(call.arguments or "{}")
        except ValueError as exc:
            return (
                None,
                None,
                f"Error: the arguments are not valid JSON ({exc}); you sent: {sent}\n"
                "Send the call again with its arguments as one JSON object",
            )
        if not isinstance(arguments, dict):
            return None, None, f"Error: the arguments must be a JSON object; you sent: {sent}"
        problem = unpinnable(arguments)  # its hash pins what is approved and run
        if problem is not None:
            return None, None, f"Error: the arguments cannot be used: {problem}"
        try:
            return tool, tool.validate(arguments), None
        except ToolError as exc:
            return None, None, f"Error: {exc}"

    def refuse(self, call: ToolCallRequest, problem: str) -> dict[str, Any]:
        """A call the loop will not run (a misplaced `finish`): recorded and refused."""
        return self._invalid(call, problem, False)

    def _invalid(
        self, call: ToolCallRequest, problem: str, recorded: bool, *, watched: bool = True
    ) -> dict[str, Any]:
        """A call that cannot run is recorded as sent (and counted), then refused."""
        if not recorded:
            self._record_call(call, "invalid", problem)
        return self._result(call, problem, ok=False, outcome="invalid", watched=watched)

    def _record_call(self, call: ToolCallRequest, verdict: str, reason: str) -> None:
        """A call that cannot run: its `tool_call` event, with the raw text exactly as the model
        sent it and no hash."""
        self.port.record(self._call_event(call, verdict, reason))

    def _call_event(
        self,
        call: ToolCallRequest,
        verdict: str,
        reason: str,
        rule: str | None = None,
        arguments: dict | None = None,
        digest: str | None = None,
        call_class: str | None = None,
    ) -> ToolCall:
        """The call's one `tool_call` event: with the arguments as validated and their hash, or
        (a call that cannot run) the raw text exactly as the model sent it and no hash."""
        tool = self.spec.tools.get(call.name)
        return ToolCall(
            tool_call_id=call.id,
            tool=call.name,
            arguments=call.arguments if arguments is None else arguments,
            risk=tool.risk if tool is not None else "unknown",
            verdict=Verdict(verdict),
            rule=rule,
            reason=reason,
            args_hash=digest,
            call_class=call_class,
        )

    def _verdict(
        self, tool: Tool, arguments: dict, digest: str, force: str | None
    ) -> PolicyDecision:
        if force is not None:
            return PolicyDecision("ask", force, None)
        return decide(
            self.port.with_project_rules(self.spec.policy),
            tool=tool.name,
            risk=tool.risk,
            arguments=arguments,
            autonomy=self.spec.autonomy,
            args_hash=digest,
            allowance=self.gate.allowance,
            kinds=tool.argument_kinds,
            workspace=self.spec.workspace,
            known_hosts=self.spec.known_hosts,
        )

    def _execute(
        self,
        call: ToolCallRequest,
        tool: Tool,
        arguments: dict,
        approval_id: int | None = None,
        edit: Edit | None = None,
        *,
        call_event: ToolCall | None = None,
    ) -> dict[str, Any] | Outcome:
        refused = self._begin(call, tool, arguments, approval_id, call_event)
        if isinstance(refused, Outcome):
            return refused
        if refused is not None:
            return self._result(call, refused, ok=False, outcome="denied")
        planned = self.ledger.plan(tool.name, arguments)  # before it runs: `rm *.tmp`'s files
        self._grew = disk_growth_bound(tool, arguments)
        started = time.monotonic()
        token = self.port.token  # a halt while the tool runs ends its processes
        check = self.port.cancelled_now
        context = tool_context(self.spec.policy, token, self.spec.workspace, check, self.disk)
        try:
            output, ok = (
                run_tool(tool, arguments, workspace=self.spec.workspace, context=context),
                True,
            )
        except ToolError as exc:
            output, ok = f"Error: {exc}", False
        cut = stopping(token)
        result = self._result(
            call,
            output,
            ok=ok,
            outcome="halted" if cut else "ok" if ok else "error",
            duration_s=time.monotonic() - started,
            arguments=arguments,
            edit=edit,
            usage={"tool_calls": 1},  # counted with its result, in one transaction
            planned=planned,
        )
        return ended(token, "while a tool ran") if cut else result

    def _begin(
        self,
        call: ToolCallRequest,
        tool: Tool,
        arguments: dict,
        approval_id: int | None,
        call_event: ToolCall | None,
    ) -> str | Outcome | None:
        """The last step before the tool starts, one transaction ordered against any halt by the
        store: no halt pending, the approval (if any) consumed by this execution of exactly these
        arguments, and a `tool_started` event (after the call's own `tool_call` event, when it
        is given: not recorded yet). A refusal's text for the model, the run's end (the store
        refused: a halt came first, or another claim holds the run), or None."""
        if self.port.should_stop():
            if call_event is not None:
                self.port.record(call_event)
            return ended(self.port.token)
        try:
            self.port.begin_execution(
                call_event=call_event,
                tool_call_id=call.id,
                tool=tool.name,
                approval_id=approval_id,
                args_hash=args_hash(arguments),
            )
        except storage.HaltRequested:  # the port cancelled the token with it
            return ended(self.port.token, "before the tool started")
        except storage.ApprovalUnusable as exc:
            self.port.record(Error(message=str(exc), where="approval"))
            return f"Error: {exc}; not run"
        return None

    def _result(
        self,
        call: ToolCallRequest,
        output: str,
        *,
        ok: bool,
        outcome: str,
        duration_s: float = 0.0,
        arguments: dict | None = None,
        edit: Edit | None = None,
        watched: bool = True,
        usage: dict[str, float] | None = None,
        planned: Effects | None = None,
    ) -> dict[str, Any]:
        if edit is not None and arguments is not None:
            # The model must hear what really ran, not what it asked for.
            output += edited_note(edit.by, call.name, arguments)
        result = ToolResult(
            tool_call_id=call.id,
            tool=call.name,
            ok=ok,
            output=output,
            duration_s=round(duration_s, 4),
            outcome=outcome,
            arguments=arguments,
            edited_by=edit.by if edit is not None else None,
            requested_arguments=edit.requested if edit is not None else None,
        )
        # Written by the port's next write, in its transaction (the next request, the next
        # call's start...): one commit a call fewer; never dropped (StoreRunPort.hold_record).
        self.port.hold_record(result, usage=usage)
        if watched:
            self.monitor.observe(call.name, call.arguments, ok, output)
        self.ledger.note(
            call.name,
            outcome,
            arguments if arguments is not None else call.arguments,
            output,
            planned=planned,
            requested=edit.requested if edit is not None else None,
        )
        return tool_message(call.id, output)

    def skip(self, call: ToolCallRequest, reason: str) -> dict[str, Any]:
        """A call of the same turn left unrun because the run stops here: recorded, so a resume
        does not run it behind the person's back; the model reads why."""
        self._record_call(call, "invalid", reason)
        output = f"Error: not run: {reason}"
        self.port.record(
            ToolResult(
                tool_call_id=call.id,
                tool=call.name,
                ok=False,
                output=output,
                duration_s=0.0,
                outcome="skipped",
            )
        )
        return tool_message(call.id, output)
