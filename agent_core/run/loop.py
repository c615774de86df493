"""The agent loop: goal -> model -> tool calls -> verdict -> (approval) -> execute -> record -> repeat."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from agent_core.models.base import (
    ModelCancelled,
    ModelError,
    ModelProvider,
    ModelTurn,
    ToolCallRequest,
)
from agent_core.models.messages import Transcript
from agent_core.oversight.judge import judge_every, judge_progress
from agent_core.oversight.monitors import Trip, check_budget
from agent_core.run import context_window
from agent_core.run.call_ids import CallIds
from agent_core.run.claim_checks import problems_with_claim
from agent_core.run.conversation import (
    ACT_REQUEST,
    CUT_OFF_REQUEST,
    GUIDANCE_PREFIX,
    act_request,
    asks_to_act,
    assistant_message,
    guidance_message,
    not_run_reason,
    rebuild,
)
from agent_core.run.drift_watch import monitor_for
from agent_core.run.finish import (
    FINISH,
    FINISH_SPEC,
    NOT_ALONE,
    Claim,
    check_goal,
    claim_of,
)
from agent_core.run.outcome import RUN_AGAIN, NextStep, Outcome, RunAgain, ended
from agent_core.run.port import RunPort
from agent_core.run.run_summary import summarise
from agent_core.run.spec import RunSpec
from agent_core.run.tool_step import ToolStep
from agent_core.tools.cancel_token import CancelReason
from storage import HaltRequested
from storage.record import (
    AllowanceRevoked,
    Drift,
    Error,
    FinalAnswer,
    GoalCheck,
    Guidance,
    Judge,
    ModelCall,
    ModelRequest,
)

T = TypeVar("T")


class AgentLoop:
    def __init__(self, spec: RunSpec, model: ModelProvider, port: RunPort) -> None:
        self.spec = spec
        self.model = model
        self.port = port
        self.usage = spec.usage
        # Each message is serialised once, by the first call that sends it (see Transcript).
        self.messages = Transcript(
            context_window.shorter(
                rebuild(spec.goal, spec.prior_events),
                context_window.overflows_in_a_row(spec.prior_events),
            )
        )
        self.call_ids = CallIds(spec.prior_events)
        self.monitor = monitor_for(spec)
        self.tool_step = ToolStep(spec, port, self.monitor)
        self.tool_step.replay(spec.prior_events)
        self._base_seconds = spec.usage.seconds
        self._session_start = time.monotonic()
        self._cut_offs = 0  # replies in a row cut off by the output cap
        self._asked_to_act = any(  # or a person has guided the run: as rebuild() reads it
            m.get("content") == ACT_REQUEST or str(m.get("content")).startswith(GUIDANCE_PREFIX)
            for m in self.messages
            if m.get("role") == "user"
        )
        self.token = port.token  # the run's: a halt, the worker's stop, its time running out
        # The tools' specs, copied once: the run's tools do not change while it runs.
        self._tool_specs = [t.spec() for t in spec.tools.values()]
        if FINISH not in spec.tools:
            self._tool_specs.append(FINISH_SPEC)

    def run(self) -> Outcome:
        """Turns until one ends the run. The store's refusal of a write (a halt came first,
        another claim holds the run) is the one end that arrives as an exception, from any
        write: the port has cancelled the run's token with it, which says how the run ends."""
        try:
            resumed = self.tool_step.finish_interrupted()
            if isinstance(resumed, Outcome):
                return resumed
            self.messages.extend(resumed)
            while isinstance(step := self._turn(), RunAgain):
                pass
            self.port.write_held()  # what no write carried yet (an answer, a tool's result)
            return step
        except HaltRequested:  # LeaseLost too
            return ended(self.token)

    def _turn(self) -> NextStep:
        """One turn: the step boundary, the model call, its tool calls, the monitors."""
        end = self._between_steps()
        if end is not None:
            return end
        turn = self._call_model_in_time()
        if isinstance(turn, Outcome):
            return turn
        not_run = not_run_reason(turn.finish_reason)
        finishing = [c for c in turn.tool_calls if self._is_finish(c)]
        end = self._tool_calls([c for c in turn.tool_calls if c not in finishing], turn, not_run)
        if end is not None:
            return end
        cut = self._cut_short(turn)
        if isinstance(cut, Outcome):
            return cut
        if cut:
            return RUN_AGAIN
        if not turn.tool_calls:
            if self._ask_to_act():
                return RUN_AGAIN
            return self._finish(Claim(True, turn.text, structured=False))
        if finishing:
            claim = self._claim(finishing, turn, not_run)
            if claim is not None:
                return self._finish(claim)
        self.monitor.end_turn()
        return self._check_drift(judge=True) or RUN_AGAIN

    def _ask_to_act(self) -> bool:
        """A text-only first reply to a goal that asks for work is not a final answer: the model
        is asked, once, to act (or to finish with goal_met=false); rebuild() asks the same."""
        called = self.tool_step.ledger.called
        if not asks_to_act(self.spec.goal, called=called, asked=self._asked_to_act):
            return False
        self._asked_to_act = True
        self.messages.append(act_request())
        self.monitor.end_turn()
        return True

    def _is_finish(self, call: ToolCallRequest) -> bool:
        return call.name == FINISH and FINISH not in self.spec.tools

    def _tool_calls(self, calls: list[ToolCallRequest], turn: ModelTurn, not_run) -> Outcome | None:
        """Each call in turn, with budgets checked before and the monitors after each one: a
        batch of identical calls stops at the threshold, and a person is asked once. The run's
        end when it ends on the way, else None."""
        for index, call in enumerate(calls):
            spent = None if not_run else self._budget_trip(steps=False)
            if spent is not None:
                return self._stop_batch(calls[index:], spent, self.spec.policy.on_budget)
            message = self.tool_step.handle(call, turn.text, not_run=not_run)
            if isinstance(message, Outcome):
                return message
            self.messages.append(message)
            spent = self.tool_step.disk_trip()
            if spent is not None:
                return self._stop_batch(calls[index + 1 :], spent, self.spec.policy.on_budget)
            trip = self.monitor.check()
            if trip is not None:
                return self._stop_batch(calls[index + 1 :], trip, self.spec.policy.monitors.action)
        return None

    def _stop_batch(self, rest: list[ToolCallRequest], trip: Trip, action: str) -> Outcome:
        for call in rest:
            reason = f"the run stopped first ({trip.monitor}: {trip.detail[:200]})"
            self.messages.append(self.tool_step.skip(call, reason))
        return self._trip(trip, action)

    def _claim(self, finishing: list[ToolCallRequest], turn: ModelTurn, not_run) -> Claim | None:
        """The model's finish statement, or None when it cannot end the run (sent with other
        calls, or malformed): the model reads why and goes on."""
        problem: str | None = not_run
        claim: Claim | str | None = None
        if problem is None and len(finishing) == len(turn.tool_calls) == 1:
            claim = claim_of(finishing[0], turn.text)
            if isinstance(claim, Claim):
                return claim
            problem = claim
        for call in finishing:
            self.messages.append(self.tool_step.refuse(call, problem or NOT_ALONE))
        return None

    # -- step boundary: commands, budgets ---------------------------------------------------
    def _between_steps(self) -> Outcome | None:
        """One indexed read of the run's commands (a halt among them wins), then the budgets:
        the run's end, or None to go on."""
        if self.port.should_stop():
            return ended(self.token)
        for command in self.port.take_commands():
            if command.kind == "halt":
                self.token.cancel(CancelReason.HALTED)
                return Outcome("halted", f"halted by {command.by or 'a human'}")
            if command.kind == "pause":
                return Outcome("paused", f"paused by {command.by or 'a human'}")
            if command.kind == "guidance" and command.message:
                self.port.record(Guidance(message=command.message, by=command.by))
                self.messages.append(guidance_message(command.message))
                self.monitor.reset()
                self._asked_to_act = True
            if command.kind == "revoke" and command.approval_id is not None:
                self.port.record(AllowanceRevoked(approval_id=command.approval_id, by=command.by))
                self.tool_step.gate.revoke(command.approval_id)
        return self._check_budget()

    def _check_budget(self) -> Outcome | None:
        trip = self._budget_trip(steps=True)
        if trip is not None:
            return self._trip(trip, self.spec.policy.on_budget)
        return None

    def _budget_trip(self, *, steps: bool) -> Trip | None:
        self.usage.seconds = self._elapsed()
        return check_budget(self.spec.budget, self.usage, steps=steps)

    def _cut_short(self, turn: ModelTurn) -> bool | Outcome:
        """A reply the server did not let end is never a final answer: True to ask again, the
        run's end when it cannot go on."""
        if turn.finish_reason == "content_filter":
            return Outcome(
                "paused",
                "the model server's content filter stopped the reply (finish_reason "
                "content_filter); rephrase the goal or send guidance, then resume the run",
            )
        if turn.finish_reason != "length":
            self._cut_offs = 0
            return False
        if turn.tool_calls:
            return False  # the calls were not run; the model reads why and sends them again
        self._cut_offs += 1
        self.messages.append({"role": "user", "content": CUT_OFF_REQUEST})  # as rebuild() does
        if self._cut_offs >= 2:
            from agent_core.models.settings import OUTPUT_CAP_HINT

            cap = getattr(self.model, "max_output_tokens", None)
            at = f" of {cap} tokens" if cap else ""
            return Outcome(
                "paused",
                f"the model's reply was cut off by the output cap{at} twice in a row; "
                f"{OUTPUT_CAP_HINT}, then resume the run",
            )
        return True

    def elapsed(self) -> float:
        return self._elapsed()

    def _elapsed(self) -> float:
        """Working time over all sessions of the run; time spent waiting for a human is not counted."""
        working = time.monotonic() - self._session_start - self.tool_step.gate.waited_s
        return self._base_seconds + max(working, 0.0)

    def _check_drift(self, *, judge: bool) -> Outcome | None:
        trip = self.monitor.check() or (self._judge() if judge else None)
        if isinstance(trip, Outcome):
            return trip
        if trip is not None:
            return self._trip(trip, self.spec.policy.monitors.action)
        return None

    def _judge(self) -> Trip | Outcome | None:
        """Every K steps, with a real model, a separate call rates progress toward the goal."""
        every = judge_every(self.spec.policy.monitors, self.model.provider)
        if not every or self.usage.steps % every:
            return None
        summary = self.monitor.summary()
        # Recorded like the step's own request, in one transaction with the halt check: a halt
        # that came first ends the run here (HaltRequested), and no request starts after it.
        try:
            self.port.begin_step(ModelRequest(step=self.usage.steps, purpose="judge"))
        except HaltRequested:
            return ended(self.token, "before the progress judge's request")
        try:
            verdict = self._side_call(
                lambda cancel: judge_progress(
                    self.model, self.spec.goal, self.messages, cancel, summary
                )
            )
        except ModelError as exc:
            self.port.record(Error(message=f"progress judge: {exc}", where="judge"))
            return None
        if isinstance(verdict, Outcome):
            return verdict
        self.usage.tokens += verdict.tokens_in + verdict.tokens_out
        self.usage.cost_usd += verdict.cost_usd
        threshold = self.spec.policy.monitors.judge_threshold
        self.port.record(
            Judge(
                score=verdict.score,
                reason=verdict.reason,
                threshold=threshold,
                tokens_in=verdict.tokens_in,
                tokens_out=verdict.tokens_out,
                cost_usd=verdict.cost_usd,
            ),
            usage=_usage_of(verdict),
        )
        if verdict.score < threshold:
            return Trip(
                "progress_judge", f"progress {verdict.score:.2f} < {threshold}: {verdict.reason}"
            )
        return None

    def _trip(self, trip: Trip, action: str) -> Outcome:
        self.port.record(Drift(monitor=trip.monitor, detail=trip.detail, action=action))
        reason = f"{trip.monitor}: {trip.detail}"
        if action == "halt":
            return Outcome("halted", reason)
        if action == "fail":
            return Outcome("failed", reason)
        return Outcome("paused", reason)

    # -- the model call, cancellable by a halt ------------------------------------------------
    def _call_model_in_time(self) -> ModelTurn | Outcome:
        """The model call, cut by the run's token when its working time runs out (the budget
        trips), a person halts the run or the worker stops: the process's halt watcher sets it."""
        deadline = time.monotonic() + max(self.spec.budget.max_seconds - self._elapsed(), 0.0)
        with self.port.working_until(deadline):
            turn = self._call_model()
        if isinstance(turn, Outcome) and self.token.reason is CancelReason.DEADLINE:
            return self._check_budget() or turn
        return turn

    def _side_call(self, call: Callable[[threading.Event], T]) -> T | Outcome:
        """A call beside the conversation (the progress judge, the final goal check), cut like
        the model's own call: by a halt, the worker's stop or the end of the working time."""
        deadline = time.monotonic() + max(self.spec.budget.max_seconds - self._elapsed(), 0.0)
        with self.port.working_until(deadline):
            try:
                return call(self.token)
            except ModelCancelled:
                pass
        if self.token.reason is CancelReason.DEADLINE:
            return self._check_budget() or ended(self.token)
        return self._cancelled()

    def _cancelled(self) -> Outcome:
        """The model call was cancelled: by what the token (or a last look at the run) says."""
        return self.tool_step.stopped() or Outcome("halted", "model call cancelled")

    def _call_model(self) -> ModelTurn | Outcome:
        """In the run's own thread: the `model_request` step (atomic with the halt check, right
        before the request), the call, and its record; no thread of its own."""
        specs = list(self._tool_specs)
        step = self.usage.steps + 1
        streamed: list[str] = []

        def on_delta(piece: str) -> None:  # in this thread; the port writes at most 4 times/s
            streamed.append(piece)
            self.port.partial(step, "".join(streamed))

        try:
            try:
                self.port.begin_step(ModelRequest(step=step))
            except HaltRequested:
                return ended(self.token, "before the model request")
            turn = self._complete(specs, on_delta)
            if isinstance(turn, Outcome):
                return turn
            return self._record_turn(turn)
        finally:
            self.port.end_partial()  # after the model_call event, so readers never miss the turn

    def _complete(self, specs: list[dict], on_delta) -> ModelTurn | Outcome:
        try:
            # The conversation itself, not a copy: a provider reads (or serialises) it before
            # complete() returns, and the loop appends only after that.
            return self.model.complete(self.messages, specs, cancel=self.token, on_delta=on_delta)
        except ModelCancelled:
            return self._cancelled()
        except ModelError as error:
            self.port.record(Error(message=str(error), where="model"))
            if context_window.is_overflow(str(error)):  # pause and ask, never fail the run
                return self._trip(Trip(context_window.MONITOR, context_window.REASON), "pause")
            return Outcome("failed", f"model error: {error}")

    def _record_turn(self, answer: ModelTurn) -> ModelTurn:
        # From here on every call is named by onloop's own id, never the model's (see call_ids).
        turn, calls = self.call_ids.number(answer)
        cost = {
            "tokens_in": turn.tokens_in,
            "tokens_out": turn.tokens_out,
            "cost_usd": turn.cost_usd,
        }
        # Written by the port's next write, in its transaction (a call's start, the final answer,
        # the next request...), under its halt check: not recorded once a halt is (the answer
        # came too late), its cost kept.
        self.port.hold_step(
            ModelCall(
                step=self.usage.steps + 1,
                text=turn.text,
                tool_calls=calls,
                tokens_in=turn.tokens_in,
                tokens_out=turn.tokens_out,
                cost_usd=turn.cost_usd,
                latency_s=round(turn.latency_s, 4),
                model_name=turn.model_name,
                finish_reason=turn.finish_reason,
            ),
            usage={"steps": 1, **cost},  # in the event's own transaction
            late=cost,
        )
        self.usage.steps += 1
        self.usage.tokens += turn.tokens_in + turn.tokens_out
        self.usage.cost_usd += turn.cost_usd
        self.messages.append(assistant_message(turn.text, calls))
        self.monitor.start_turn(turn.text)
        self.tool_step.ledger.turn(turn.text, [(c.name, c.arguments) for c in turn.tool_calls])
        return turn

    def _finish(self, claim: Claim) -> Outcome:
        """The run ends as the model says, unless what its tools did (or, with a real model, a
        final check against the goal) says the goal was not met: then `unmet`, with why."""
        problems = [] if not claim.goal_met else self._contradictions(claim)
        if isinstance(problems, Outcome):  # the final check was cut: the run ends that way
            return problems
        answer = FinalAnswer(
            text=claim.summary,
            goal_met=claim.goal_met and not problems,
            claimed_goal_met=claim.goal_met,
            structured=claim.structured,
            problems=problems,
        )
        try:
            self.port.begin_step(answer)
        except HaltRequested:
            return Outcome("halted", "halted by a human before the final answer")
        if not claim.goal_met:
            return Outcome("unmet", "the agent reported that the goal was not met", claim.summary)
        if problems:
            return Outcome("unmet", "; ".join(problems)[:1000], claim.summary)
        return Outcome("succeeded", None, claim.summary)

    def _contradictions(self, claim: Claim) -> list[str] | Outcome:
        ledger = self.tool_step.ledger
        problems = [
            f"the final answer claims the goal was met, but {what}"
            for what in problems_with_claim(
                self.spec.goal, ledger, self.spec.workspace, claim.summary
            )
        ]
        if problems or not self.spec.policy.monitors.final_check or self.model.provider == "demo":
            return problems
        summary = summarise(ledger)
        # The answer and the last tool's result are on record while the check runs (seconds, with
        # a real model): the live view shows them, and a crash meanwhile keeps them.
        self.port.write_held()
        try:
            check = self._side_call(
                lambda cancel: check_goal(
                    self.model, self.spec.goal, summary, self.messages, claim.summary, cancel
                )
            )
        except ModelError as exc:
            # Unknown is not "not met": the claim stands, and the record says it went unchecked.
            self.port.record(Error(message=f"goal check: {exc}", where="goal_check"))
            return []
        if isinstance(check, Outcome):
            return check
        self.usage.tokens += check.tokens_in + check.tokens_out
        self.usage.cost_usd += check.cost_usd
        self.port.record(
            GoalCheck(
                met=check.met,
                reason=check.reason,
                tokens_in=check.tokens_in,
                tokens_out=check.tokens_out,
                cost_usd=check.cost_usd,
            ),
            usage=_usage_of(check),
        )
        return [] if check.met else [f"the final goal check found it not met: {check.reason}"]


def _usage_of(call: Any) -> dict[str, float]:
    """What a side call (judge, goal check) used, added with its event."""
    return {"tokens_in": call.tokens_in, "tokens_out": call.tokens_out, "cost_usd": call.cost_usd}
