"""Drift monitors: budgets, and loops judged by what calls observed, not by how they were asked.

Each finished call becomes an Observation: its outcome (the file contents it left, its error's
signature, or its normalised result) and whether that was news: output lines not seen lately,
contents a file never had, an action not taken before. A call that returns what was already
seen, an empty page past the end of a file, a file going back to earlier contents (or growing
only by lines it has), or output that only grows by lines already seen is not progress; the
call's own query or URL repeated back in its answer is not news either. A code file whose code
is as it was (a comment reworded) does not reset the count of an error that comes back. The checks (drift_checks) then look for
repeats, polls that keep waiting, cycles of period 2 to 8, errors that come back (in a row or
not), and runs of calls with nothing new; each costs O(window) per call, however long the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent_core.oversight import drift_checks
from agent_core.oversight.drift_checks import Observation, Trip
from agent_core.oversight.policy import MonitorSettings
from agent_core.oversight.polling import (
    PollRules,
    command_of,
    compile_commands,
    is_pure_wait,
    says_try_later,
    says_waiting,
    without_waits,
)
from agent_core.oversight.progress import Memory
from agent_core.oversight.run_digest import RunDigest
from agent_core.oversight.signatures import (
    attempt_of,
    content_lines,
    error_signature,
    is_error,
    normalise_arguments,
    parsed_arguments,
    result_signature,
    strip_volatile,
    without_echoes,
)
from agent_core.oversight.workspace_state import CONTENT_KEYS, DELETED, Reader, WorkspaceState
from storage.record import ToolResult, parse_as
from storage.vocabulary import EventKind

__all__ = ["Budget", "RepetitionMonitor", "Trip", "Usage", "check_budget", "normalise_arguments"]
HORIZON_WINDOWS = 5  # what was seen within this many windows is not news
ACK_CAP = 160  # an answer this short, on one line, acknowledges an action ("sent", "created")
_READ_TOOL = ("read", "view", "open", "cat", "get_file")


@dataclass
class Budget:
    max_steps: int
    max_seconds: float
    max_tokens: int | None = None
    max_cost_usd: float | None = None


@dataclass
class Usage:
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


def check_budget(budget: Budget, usage: Usage, *, steps: bool = True) -> Trip | None:
    """The first budget that is spent, if any. Checked before each model call, and (without the
    step count: the step that pays for a call is already counted) before each tool call."""
    if steps and usage.steps >= budget.max_steps:
        return Trip("budget_steps", f"used {usage.steps} of {budget.max_steps} steps")
    if usage.seconds >= budget.max_seconds:
        return Trip(
            "budget_time", f"ran {usage.seconds:.0f} s of a {budget.max_seconds:.0f} s budget"
        )
    if budget.max_tokens is not None and usage.tokens >= budget.max_tokens:
        return Trip("budget_tokens", f"used {usage.tokens} of {budget.max_tokens} tokens")
    if budget.max_cost_usd is not None and usage.cost_usd >= budget.max_cost_usd:
        return Trip(
            "budget_cost", f"spent ${usage.cost_usd:.4f} of a ${budget.max_cost_usd:.4f} budget"
        )
    return None


class RepetitionMonitor:
    """Watches one session of a run: `observe()` each finished call, `start_turn()`/`end_turn()`
    around each model turn, `check()` after every call (a batch stops at the threshold).

    `polling`: tools declared as polls (besides the policy's patterns); `actions`: side-effecting
    tools, whose new call answered by a short acknowledgement ("sent") is progress onloop cannot
    see (one that returns content, such as a fetched page, is judged by its content);
    `reader`: a workspace path -> the digest of its content, for files a shell command writes."""

    def __init__(
        self,
        settings: MonitorSettings,
        polling: frozenset[str] = frozenset(),
        *,
        actions: frozenset[str] = frozenset(),
        reader: Reader | None = None,
    ) -> None:
        self.settings = settings
        self.polls = PollRules(
            tools=tuple(settings.poll_tools),
            commands=compile_commands(settings.poll_commands),
            declared=frozenset(polling),
        )
        self.actions = actions
        self.steps: deque[Observation] = deque(maxlen=settings.window)
        self.memory = Memory(horizon=settings.window * HORIZON_WINDOWS)
        self.state = WorkspaceState(reader)
        self.digest = RunDigest()
        self.idle_messages: deque[str] = deque(maxlen=settings.repeat_same_message)
        self._index = 0
        self._attempts: dict[str, int] = {}  # error signature -> its last attempt counter
        self._waits = 0  # calls in a row that only waited
        self._turn_text: str | None = None
        self._turn_new = False

    # -- feeding ---------------------------------------------------------------------------
    def observe(self, tool: str, arguments: object, ok: bool, output: str) -> None:
        args = parsed_arguments(arguments)
        self._index += 1
        if is_pure_wait(tool, args):
            self._waits += 1
            self._turn_new = True  # waiting is not idling
            return
        self._waits = 0
        shaped = normalise_arguments(without_waits(args))
        asked = self.memory.news([f"call {tool}({shaped})"], self._index)  # not asked lately
        step = self._observation(tool, args, ok, output, shaped, asked)
        self.steps.append(step)
        if step.novel or step.waiting or asked:
            self._turn_new = True  # the model said the same, but did something else

    def _observation(
        self, tool: str, args: dict, ok: bool, output: str, shaped: str, asked: bool
    ) -> Observation:
        index = self._index
        clean = strip_volatile(without_echoes(output, args))
        lines = content_lines(clean, cleaned=True)
        call = f"{tool}({normalise_arguments(args)})"
        command = command_of(args)
        failed = is_error(ok, output, command)
        changes = self.state.changes(tool, args, ok, output)
        made = self.state.assess(changes, index, by_command=command is not None)
        poll = self.polls.recognises(tool, args)
        if failed:
            error = error_signature(clean, tool, cleaned=True)
            news = self.memory.news([f"error {error}"], index)
            waiting = (
                (poll and says_waiting(output))
                or says_try_later(output)
                or self._retried(error, output)
            )
            key = f"{tool}|error|{error}"
        else:
            error = ""
            news = self.memory.news(lines, index)
            if tool in self.actions and len(lines) <= 1 and len(clean) <= ACK_CAP:
                news |= asked  # an action not taken before, acknowledged: progress unseen
            waiting = (poll and says_waiting(output)) or says_try_later(output)
            answer = "" if lines else f"{shaped}|"  # the same nothing from other calls: no repeat
            key = f"{tool}|result|{answer}{result_signature(clean, cleaned=True)}"
            self._saw_read(tool, args, output, index)
        wrote = made.new and not made.churn
        if changes:
            # a file grown by lines it has: the same outcome however long it gets
            marks = [f"{c.path}={'<repeated>' if made.repeated else c.state}" for c in changes]
            key = f"{tool}|state|" + "|".join(marks)
            self._remember_written(args, index)
            news = wrote or (news and command is not None)
        elif news:
            self.state.learnt()
        for change in changes:
            self.digest.touched(change.path, deleted=change.state == DELETED)
        self.digest.note(tool, call, output, failed, news)
        fixed = made.code_new and not made.churn
        said = lines[0] if lines else ""
        return Observation(tool, call, key, error, news, waiting, wrote, fixed, said)

    def _retried(self, error: str, output: str) -> bool:
        """The same error with a higher attempt counter than last time: a retry in progress."""
        attempt = attempt_of(output)
        if attempt is None:
            return False
        before = self._attempts.pop(error, None)
        self._attempts[error] = attempt
        if len(self._attempts) > 256:
            del self._attempts[next(iter(self._attempts))]
        return before is not None and attempt > before

    def _saw_read(self, tool: str, args: dict, output: str, index: int) -> None:
        """A whole file read: its content is a state the file has had."""
        path = args.get("path")
        if isinstance(path, str) and set(args) == {"path"} and tool.lower().startswith(_READ_TOOL):
            self.state.saw(path, output, index)

    def _remember_written(self, args: dict, index: int) -> None:
        """Reading back what was just written is no news."""
        for key in CONTENT_KEYS:
            if isinstance(args.get(key), str):
                self.memory.news(content_lines(args[key]), index)

    def start_turn(self, text: str) -> None:
        self._turn_text = " ".join(text.split())
        self._turn_new = False

    def end_turn(self) -> None:
        """A turn that brought nothing new extends the run of idle turns; one that did ends it."""
        if self._turn_text is None:
            return
        if self._turn_new or not self._turn_text:
            self.idle_messages.clear()
        else:
            self.idle_messages.append(self._turn_text)
        self._turn_text = None

    # -- checking --------------------------------------------------------------------------
    def check(self) -> Trip | None:
        s = self.settings
        steps = list(self.steps)  # at most `window` of them
        return (
            drift_checks.repetition(steps, s.repeat_same_call)
            or drift_checks.polling(steps, s.poll_patience)
            or drift_checks.cycle(steps, max(s.alternating_window // 2, 2))
            or drift_checks.same_error(steps, s.repeat_same_error)
            or drift_checks.no_progress(steps, s.no_progress)
            or self._only_waiting()
            or self._same_message()
        )

    def _only_waiting(self) -> Trip | None:
        if self._waits < self.settings.poll_patience:
            return None
        return Trip("polling", f"waited {self._waits} times in a row without checking anything")

    def _same_message(self) -> Trip | None:
        n = self.settings.repeat_same_message
        tail = list(self.idle_messages)[-n:]
        if len(tail) == n and len(set(tail)) == 1:
            return Trip(
                "same_message",
                f"said the same thing {n} turns in a row with nothing new: {tail[-1][:200]}",
            )
        return None

    def recall(self, events: Iterable[Any]) -> None:
        """A resumed session: take in what earlier sessions' calls observed (what was seen, the
        files' state, the judge's account of the run), then start the counts again, as after a
        person steps in."""
        for event in events:
            if event.kind != EventKind.TOOL_RESULT:
                continue
            result = parse_as(ToolResult, event.payload)
            if result.tool and result.outcome not in ("skipped", "halted"):
                self.observe(result.tool, result.arguments or {}, result.ok, result.output)
        self.reset()

    def summary(self) -> str:
        """The run so far in a few lines, for the progress judge."""
        return self.digest.summary()

    def reset(self) -> None:
        """After a human steps in (resume, guidance) the counts start again; what the run has
        seen and the workspace's state are kept."""
        self.steps.clear()
        self.idle_messages.clear()
        self._waits = 0
