"""Stuck and legitimate runs for the drift monitors: how they are written, worded and driven.

A scenario is a list of model turns, each with its text and tool calls, and what each scripted
tool answers. It is built twice from one function: in the *identical* wording every turn says the
same and sends the same arguments; in the *varied* wording the model's text and the incidental
parts of its arguments change from turn to turn as real models' do (a rephrased sentence, a
quoted path, `cd . &&` before a command, a trailing newline in a file), while what the calls do
stays the same. Tools' outputs carry what real outputs carry in both wordings: timestamps,
durations, process ids, temporary paths.

`drive` runs a scenario through the real worker and loop (the scripted model, the scripted tools
registered under their names, write_file/read_file/delete_files for real in the run's workspace);
`replay` feeds the same calls straight to a monitor object, as the loop does (for the benchmark,
which also replays them through the previous monitor). `detectable` is the number of tool calls
after which the default thresholds can see the loop; `starts` is its first call (a trip before it
is a trip on legitimate work).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.support.drift_tools import ANSWERS, SCRIPTED_TOOLS

# -- what a scenario is ---------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: dict[str, Any]
    answer: str | None = None  # the scripted tool's output ("ERR: x" is raised); None: a built-in


@dataclass(frozen=True)
class Turn:
    text: str
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    turns: tuple[Turn, ...]
    # stuck: the tool call at which the default thresholds can see it, or (identical wording,
    # varied wording) when the wordings reach it by different checks; None: legitimate work
    detectable: int | tuple[int, int] | None = None
    starts: int = 1  # stuck: the first call of the stuck part (a trip before it is a false trip)
    files: dict[str, str] = field(default_factory=dict)  # the workspace before the run
    source: str = ""  # the reported failure it is written from

    @property
    def calls(self) -> int:
        return sum(len(t.calls) for t in self.turns)

    @property
    def stuck(self) -> bool:
        return self.detectable is not None

    def detectable_in(self, wording: Wording) -> int:
        assert self.detectable is not None
        if isinstance(self.detectable, tuple):
            return self.detectable[1 if wording.varied else 0]
        return self.detectable


class Wording:
    """Identical (the same words every turn) or varied (what a real model varies, varied)."""

    _SAYINGS = ("{t}", "OK, {l}", "{t} Let me look.", "Next: {l}", "Alright. {t}", "Now {l}")
    _COMMANDS = ("{c}", "cd . && {c}", "{c} 2>&1", "{q}")

    def __init__(self, varied: bool) -> None:
        self.varied = varied
        self.name = "varied" if varied else "identical"

    def say(self, i: int, text: str) -> str:
        if not self.varied:
            return text
        lower = text[:1].lower() + text[1:]
        return self._SAYINGS[i % len(self._SAYINGS)].format(t=text, l=lower)

    def cmd(self, i: int, command: str) -> str:
        """The command with incidental differences: a `cd .` before it, stderr merged, its last
        word quoted; what it runs and what it answers stay the same."""
        if not self.varied:
            return command
        words = command.rsplit(" ", 1)
        quoted = f"{words[0]} '{words[1]}'" if len(words) == 2 and "'" not in command else command
        return self._COMMANDS[i % len(self._COMMANDS)].format(c=command, q=quoted)

    def content(self, i: int, text: str) -> str:
        """A file's text with an incidental trailing newline or spaces."""
        if not self.varied:
            return text
        return (text, text + "\n", text + "  ", text.rstrip("\n") + "\n\n")[i % 4]

    def pick(self, i: int, *options: Any) -> Any:
        """The first option in the identical wording; each in turn in the varied one."""
        return options[i % len(options)] if self.varied else options[0]


Builder = Callable[[Wording], Scenario]


def cited(into: list[Builder]) -> Callable[[str], Callable[[Builder], Builder]]:
    """A decorator factory: `@stuck("https://github.com/...")` adds the builder to `into`, and
    the scenarios it builds carry the URL of the reported failure they are written from."""

    def cite(url: str) -> Callable[[Builder], Builder]:
        def register(build: Builder) -> Builder:
            def built(w: Wording) -> Scenario:
                return replace(build(w), source=url)

            built.__name__ = build.__name__
            into.append(built)
            return built

        return register

    return cite


def sh(command: str, output: str = "", code: int = 0) -> Call:
    """A shell command and what it answers: its exit code, then its output."""
    return Call("shell", {"command": command}, f"exit code {code}\n{output or '(no output)'}")


def call(name: str, answer: str | None = None, **arguments: Any) -> Call:
    return Call(name, arguments, answer)


def write(path: str, content: str) -> Call:
    return Call("write_file", {"path": path, "content": content})


def read(path: str) -> Call:
    return Call("read_file", {"path": path})


def one_per_turn(w: Wording, text: str, calls: list[Call]) -> tuple[Turn, ...]:
    return tuple(Turn(w.say(i, text), (c,)) for i, c in enumerate(calls))


def stamp(i: int) -> str:
    """A log timestamp that moves on with each call."""
    return f"2026-11-29T10:{i // 60:02d}:{i % 60:02d}.{(i * 37) % 1000:03d}Z"


FILE_TOOLS = ("write_file", "read_file", "delete_files")
# As the loop names them (run/loop.py monitor_for): side-effecting tools that run no command.
ACTIONS = frozenset(
    [*(n for n, t in SCRIPTED_TOOLS.items() if t.risk != "low"), "write_file", "delete_files"]
)
TOOL_NAMES = ", ".join(sorted([*SCRIPTED_TOOLS, *FILE_TOOLS, "list_files", "calculator"]))


def script(scenario: Scenario) -> list[dict]:
    """The scripted model's turns: the scenario's, then a finish that claims the goal met."""
    turns = [
        {
            "text": t.text,
            "tool_calls": [{"name": c.tool, "arguments": c.arguments} for c in t.calls],
        }
        for t in scenario.turns
    ]
    return [
        *turns,
        {"tool_calls": [{"name": "finish", "arguments": {"goal_met": True, "summary": "done"}}]},
    ]


def load_answers(scenario: Scenario) -> None:
    ANSWERS.clear()
    ANSWERS.extend(
        (c.tool, c.answer) for t in scenario.turns for c in t.calls if c.answer is not None
    )


def seed(scenario: Scenario, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in scenario.files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    return folder


# -- replaying the calls straight into a monitor, as the loop feeds it ----------------------------


class _Files:
    """write_file, read_file and delete_files on a dict, answering as the built-ins answer."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = dict(files)

    def run(self, c: Call) -> tuple[str, bool]:
        if c.tool == "write_file":
            path = posixpath.normpath(c.arguments["path"].strip())
            self.files[path] = c.arguments["content"]
            return f"wrote {len(c.arguments['content'].encode()):,} bytes to {path}", True
        if c.tool == "read_file":
            path = posixpath.normpath(c.arguments["path"])
            if path not in self.files:
                return (
                    f"Error: no file {path!r} in the workspace; list_files shows what exists",
                    False,
                )
            return self.files[path], True
        report = []
        for path in c.arguments["paths"]:
            gone = self.files.pop(posixpath.normpath(path), None) is not None
            report.append(f"deleted {path}" if gone else f"skipped {path}: no such file")
        return "\n".join(report), True

    def digest(self, path: str) -> str | None:
        from agent_core.oversight.workspace_state import content_digest

        text = self.files.get(posixpath.normpath(path))
        return None if text is None else content_digest(text)


def replay(scenario: Scenario, make_monitor: Callable[..., Any]) -> int | None:
    """The number of calls that ran before the monitor tripped, or None: the loop's order of
    start_turn, observe and check per call, end_turn and check per turn."""
    files = _Files(scenario.files)
    monitor = make_monitor(files.digest, ACTIONS)
    ran = 0
    for turn in scenario.turns:
        monitor.start_turn(turn.text)
        for c in turn.calls:
            if c.tool not in SCRIPTED_TOOLS and c.tool not in FILE_TOOLS:
                output, ok = (
                    f"Error: unknown tool {c.tool!r}; the tools you have: {TOOL_NAMES}",
                    False,
                )
            elif c.answer is None:
                output, ok = files.run(c)
            elif c.answer.startswith("ERR:"):
                output, ok = "Error: " + c.answer.removeprefix("ERR:").strip(), False
            else:
                output, ok = c.answer, True
            monitor.observe(c.tool, c.arguments, ok, output)
            ran += 1
            if monitor.check() is not None:
                return ran
        monitor.end_turn()
        if monitor.check() is not None:
            return ran
    return None
