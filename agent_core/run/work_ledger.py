"""What the run's tool calls came to, by target (files written and deleted, commands, checks,
URLs), not by tool: every call is kept with its outcome. A target whose last attempt was
rejected, denied or failed is unresolved unless it was reached another way that was allowed (a
rejected `rm x.txt`, then `delete_files(["x.txt"])`); a command's non-zero exit is a failure
unless the model's next step speaks of it or acts on it; a check's (tests, a build) last run
must pass, whatever was said about it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agent_core.models.base import FINISH_TOOL
from agent_core.run.attempt_words import addressed, quoted
from agent_core.run.call_effects import Effects, effects_of
from agent_core.run.check_results import (
    fallback_ran,
    passed_count,
    reported_failure,
    wider_failure,
)
from agent_core.tools import Tool
from agent_core.tools.errors import ToolError
from agent_core.tools.workspace import Workspace
from storage.record import ModelCall, ToolCall, ToolResult, parse_event

NOT_DONE = ("rejected", "denied", "error")  # "invalid", "skipped", "halted": never started
_EXIT = re.compile(r"\Aexit code (-?\d+)\b")
_TRUNCATED = re.compile(r"\[truncated: showing the first [\d,]+ of ([\d,]+) bytes\]\s*\Z")
_REJECTED_NOTE = re.compile(r"\ARejected by a human: (.+)", re.S)
_NAMES_A_FILE = re.compile(r"[\w-]\.[A-Za-z][A-Za-z0-9]{0,7}\b")
ORIGINAL_CAP = 512 * 1024  # bytes of a file kept to compare a change with


@dataclass
class Attempt:
    tool: str
    outcome: str  # the tool_result's: ok, error, rejected, denied
    effects: Effects
    exit_code: int | None = None  # a shell line's, read from its output
    note: str = ""  # a person's note on a rejection
    requested: tuple[str, ...] = ()  # paths the model asked for before a person edited them
    size: int | None = None  # bytes read or written
    output: str = ""  # its beginning, to see whether the next step speaks of it
    key: str = ""  # tool(arguments): the target of a call with no other
    risky: bool = False  # medium or high risk
    explained: bool = False  # a failure the next step spoke of or acted on
    reported: str = ""  # a check's own line saying tests failed, whatever its exit code
    fallback: str = ""  # a `|| echo MESSAGE` fallback's message the output shows: it failed
    passed: int | None = None  # how many tests a check's output says passed

    @property
    def done(self) -> bool:
        return self.outcome == "ok" and not self.exit_code and not self.reported_badly

    @property
    def exited_badly(self) -> bool:
        return self.outcome == "ok" and bool(self.exit_code)

    @property
    def reported_badly(self) -> bool:
        """It exited 0, but its output says it failed: a test summary, a fallback that ran."""
        return self.outcome == "ok" and not self.exit_code and bool(self.reported or self.fallback)

    @property
    def needs_word(self) -> bool:
        """A failure the model's next step must speak of or act on."""
        return self.exited_badly or (self.reported_badly and not self.effects.check)

    def targets(self) -> list[tuple[str, str]]:
        found = [("write", p) for p in self.effects.writes]
        found += [("delete", p) for p in self.effects.deletes]
        if self.effects.check:
            found.append(("check", self.effects.check))
        elif self.effects.command and not found:
            found.append(("command", self.effects.command))
        if self.effects.url:
            found.append(("url", self.effects.url))
        if not found and self.risky and not self.effects.reads:
            found.append(("call", self.key))
        return found

    def shown(self) -> str:
        if self.effects.command is not None:
            return f"`{quoted(self.effects.command)}`"
        paths = [*self.effects.writes, *self.effects.deletes, *self.effects.reads]
        if paths:
            return f"{self.tool} {quoted(', '.join(paths), 120)}"
        if self.effects.url:
            return f"{self.tool} {quoted(self.effects.url, 120)}"
        return f"{self.tool}({quoted(self.key, 120)})"

    def failure(self) -> str:
        if self.exited_badly:
            return f"{self.shown()} exited with {self.exit_code}"
        if self.reported_badly and self.fallback:
            return f"{self.shown()} failed (its fallback printed {quoted(self.fallback, 80)!r})"
        if self.reported_badly:
            return f"{self.shown()} exited with 0 but reported {quoted(self.reported, 120)!r}"
        if self.outcome == "error":
            return f"{self.shown()} failed ({quoted(self.output.removeprefix('Error: '), 120)})"
        by = {"rejected": " by a human", "denied": " by the policy"}.get(self.outcome, "")
        return f"{self.shown()} was {self.outcome}{by}"


@dataclass
class WorkLedger:
    workspace: Workspace | None = None
    tools: dict[str, Tool] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    originals: dict[str, str | None] = field(default_factory=dict)  # None: did not exist
    written: dict[str, str] = field(default_factory=dict)  # write_file's last content per path
    _pending: list[Attempt] = field(default_factory=list)  # failures the next step must address
    _called: bool = False

    @property
    def called(self) -> bool:
        """Whether the model has asked for any tool call in this run."""
        return self._called or bool(self.attempts)

    def plan(self, name: str, arguments: dict[str, Any]) -> Effects:
        """The effects of a call about to run (globs expanded now), keeping what it will change."""
        effects = effects_of(name, self.tools.get(name), arguments, self.workspace)
        for path in effects.writes:
            if path not in self.originals:
                self._keep_original(path)
        return effects

    def note(
        self,
        name: str,
        outcome: str,
        arguments: Any,
        output: str,
        *,
        planned: Effects | None = None,
        requested: dict[str, Any] | None = None,
    ) -> None:
        """One call's result (`planned`: its effects worked out before it ran)."""
        self._called = True
        if outcome not in (*NOT_DONE, "ok"):
            return
        args = _as_dict(arguments)
        tool = self.tools.get(name)
        effects = planned or effects_of(name, tool, args, self.workspace)
        exit_code = _exit_code(output) if outcome == "ok" else None
        command = effects.command or ""
        note = _REJECTED_NOTE.match(output) if outcome == "rejected" else None
        attempt = Attempt(
            tool=name,
            outcome=outcome,
            effects=effects,
            exit_code=exit_code,
            note=note.group(1).strip() if note else "",
            requested=effects_of(name, tool, requested, None).writes if requested else (),
            size=_size(name, args, output, outcome),
            output=output[:2000],
            key=json.dumps(args, sort_keys=True, ensure_ascii=False)[:200],
            risky=tool is not None and tool.risk in ("medium", "high"),
            reported=reported_failure(output[-20_000:]) if effects.check else "",
            passed=passed_count(output[-20_000:]) if effects.check else None,
            fallback=fallback_ran(command, output) if outcome == "ok" else "",
        )
        self.attempts.append(attempt)
        if attempt.needs_word:
            self._pending.append(attempt)
        self._remember(name, args, output, attempt)

    def turn(self, text: str, calls: list[tuple[str, Any]]) -> None:
        """The model's next step after the results so far (its text, its calls with their
        arguments, a `finish` call's summary): failures it speaks of or acts on are explained;
        the others stay failures."""
        parsed = [(name, _as_dict(arguments)) for name, arguments in calls]
        said = " ".join([text, *(str(a.get("summary", "")) for n, a in parsed if n == FINISH_TOOL)])
        acting = [(n, a) for n, a in parsed if n != FINISH_TOOL]
        for attempt in self._pending:
            attempt.explained = addressed(attempt.effects, attempt.output, said, acting)
        self._pending = []
        if acting:
            self._called = True

    def replay(self, events: list[Any]) -> None:
        """The record of earlier sessions, in order."""
        asked: dict[str, Any] = {}
        for event in events:
            step = parse_event(event.kind, event.payload)
            if isinstance(step, ModelCall):
                calls = [(c.get("name", ""), c.get("arguments")) for c in step.tool_calls]
                self.turn(step.text or "", calls)
            elif isinstance(step, ToolCall):
                asked[str(step.tool_call_id)] = step.arguments
            elif isinstance(step, ToolResult):
                ran = step.arguments if step.given("arguments") and step.arguments else None
                arguments = ran or asked.get(str(step.tool_call_id), {})
                requested = step.requested_arguments if step.given("requested_arguments") else None
                outcome = str(step.outcome) if step.given("outcome") else "ok"
                self.note(str(step.tool), outcome, arguments, step.output, requested=requested)

    # -- what the claim is held against --------------------------------------------------
    def unresolved(self) -> list[str]:
        """Attempts whose target was never reached: "`rm x.txt` was rejected by a human"."""
        found: dict[int, str] = {}
        for target, tried in self._by_target().items():
            last = tried[-1]
            if self._reached(target, tried) or id(last) in found:
                continue
            found[id(last)] = last.failure() + (
                " and the next step did not address it"
                if last.needs_word
                else " and never done another way"
            )
        return list(found.values())

    def _reached(self, target: tuple[str, str], tried: list[Attempt]) -> bool:
        kind, last = target[0], tried[-1]
        if last.done or (kind == "delete" and any(a.done for a in tried)):
            return True
        if any(a.done and (a.tool, a.key) == (last.tool, last.key) for a in tried):
            return True  # a repeat of a call that was done already
        if kind == "check" and last.outcome not in ("rejected", "denied"):
            return True  # a failing check is failed_checks()'s, explained or not
        if last.needs_word:
            return last.explained
        if kind == "url" and last.outcome == "error":
            return True  # a page that could not be fetched changed nothing
        return self._steered(last, kind)

    def _steered(self, rejected: Attempt, kind: str) -> bool:
        """A rejection whose note names a file ("call it summary.md", "keep cache.tmp") is the
        person's steer: done when the model then did that kind of thing, allowed."""
        if rejected.outcome != "rejected" or not _NAMES_A_FILE.search(rejected.note):
            return False
        later = self.attempts[self.attempts.index(rejected) + 1 :]
        return any(a.done and kind in (k for k, _ in a.targets()) for a in later)

    def failed_checks(self) -> list[str]:
        """Checks (tests, builds, linters) whose last run failed, or passed only narrowed to some
        of its tests after a wider run failed."""
        found = []
        for (kind, _name), tried in self._by_target().items():
            ran = [a for a in tried if a.outcome in ("ok", "error")]
            if kind != "check" or not ran:
                continue
            last = ran[-1]
            if not last.done:
                how = "failed"
                if last.exited_badly:
                    how = f"exited with {last.exit_code}"
                elif last.reported_badly:
                    how = f"exited with 0 but reported {quoted(last.reported, 120)!r}"
                found.append(f"the last check, {last.shown()}, {how}")
                continue
            failed = [a for a in ran[:-1] if not a.done]
            wider = wider_failure(
                last.effects.command or "", [a.effects.command or "" for a in failed]
            )
            if wider is not None:
                found.append(
                    f"the last check, {last.shown()}, ran only some of the tests after "
                    f"{failed[wider].shown()} failed"
                )
        return found

    def _by_target(self) -> dict[tuple[str, str], list[Attempt]]:
        targets: dict[tuple[str, str], list[Attempt]] = {}
        for attempt in self.attempts:
            for target in attempt.targets():
                targets.setdefault(target, []).append(attempt)
        return targets

    def files(self, what: str) -> set[str]:
        """Paths read, written or deleted by calls that worked (`what`: reads/writes/deletes)."""
        found = {p for a in self.attempts if a.outcome == "ok" for p in getattr(a.effects, what)}
        if what == "writes":
            found |= {p for a in self.attempts if a.done for p in a.requested}
        return found

    def redirected(self) -> set[str]:
        """Paths a person turned the run away from ("call it summary.md"), then the run wrote
        elsewhere: what the goal named is done where the person said."""
        return {p for a in self.attempts for p in a.effects.writes if self._steered(a, "write")}

    def worked(self) -> bool:
        """Whether any call did its work (a bad exit the next step explained counts: `diff`)."""
        return any(a.done or (a.exited_badly and a.explained) for a in self.attempts)

    # -- contents, to tell a change of code from a change of comments ------------------------
    def _keep_original(self, path: str) -> None:
        if self.workspace is None:
            return
        try:
            target = self.workspace.resolve(path)
            if not target.exists():
                self.originals[path] = None
            elif target.is_file() and target.stat().st_size <= ORIGINAL_CAP:
                self.originals[path] = target.read_text("utf-8")
        except (OSError, UnicodeDecodeError, ToolError):
            pass  # unknown: such a change is never called comment-only

    def _remember(self, name: str, args: dict[str, Any], output: str, attempt: Attempt) -> None:
        if not attempt.done:
            return
        if name == "read_file" and attempt.effects.reads:
            path = attempt.effects.reads[0]
            if path not in self.originals and not _TRUNCATED.search(output):
                self.originals[path] = output
        if name == "write_file" and attempt.effects.writes and isinstance(args.get("content"), str):
            self.written[attempt.effects.writes[0]] = args["content"]


def _as_dict(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            return {}
    return arguments if isinstance(arguments, dict) else {}


def _exit_code(output: str) -> int | None:
    match = _EXIT.match(output or "")
    return int(match.group(1)) if match else None


def _size(name: str, args: dict[str, Any], output: str, outcome: str) -> int | None:
    if outcome != "ok":
        return None
    if name == "write_file" and isinstance(args.get("content"), str):
        return len(args["content"].encode("utf-8"))
    if name == "read_file":
        cut = _TRUNCATED.search(output)
        return int(cut.group(1).replace(",", "")) if cut else len(output.encode("utf-8"))
    return None
