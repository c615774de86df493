"""What an outcome case is (a scripted model's turns in a seeded workspace, with the decisions a
person makes on its asks), the words cases are written in, and the workspaces they share. The
cases: outcome_claims.py (false claims of success, each modelled on a failure reported against
an agent project) and outcome_successes.py (real successes: the honest version of one of them,
or legitimate work that looks like a failure, a `grep` that exits 1 for "no match", a rejected
`rm` done with `delete_files`).

Driven by tests/run/test_outcome_suite.py and benchmarks/outcomes.py through
tests/support/outcome_harness.py. The policy allows every call except what a case asks about
(`ask`) or denies (`deny`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str
    goal: str
    turns: tuple[Any, ...]  # ScriptedModel responses
    claim_true: bool  # a real success (succeeded) or a false claim (unmet)
    reason: str = ""  # words an `unmet` reason must contain
    files: dict[str, str] = field(default_factory=dict)  # the workspace's seed
    ask: tuple[dict[str, Any], ...] = ()  # rules (without action) that ask a person
    deny: tuple[dict[str, Any], ...] = ()  # rules that deny
    decisions: tuple[tuple[Any, ...], ...] = ()  # ("approve",), ("reject", note), ("edit", args)
    source: str = ""  # the reported failure a false claim is modelled on


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def act(*calls: dict[str, Any], text: str = "") -> dict[str, Any]:
    return {"text": text, "tool_calls": list(calls)}


def shell(command: str) -> dict[str, Any]:
    return call("run_shell", command=command)


def read(path: str) -> dict[str, Any]:
    return call("read_file", path=path)


def write(path: str, content: str) -> dict[str, Any]:
    return call("write_file", path=path, content=content)


def finish(goal_met: bool, summary: str) -> dict[str, Any]:
    return act(call("finish", goal_met=goal_met, summary=summary))


CALC = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "test_calc.py": "from calc import add\n\nassert add(2, 3) == 5, add(2, 3)\nprint('ok')\n",
}
CALC_FIXED = "def add(a, b):\n    return a + b\n"
TEST = "python3 -B test_calc.py"  # -B: no stale .pyc when an edit keeps the size and second
PAGER = {"pager.py": "def pages(items, size):\n    return (len(items) + size) // size\n"}
STATS = {"stats.py": "def mean(values):\n    return sum(values) / len(values)\n"}
NOTES = {"notes.md": "# Standup\n- ship the importer\n- fix the login bug\n"}
TWENTY = {f"notes/note{n:02}.md": f"# Title {n}\nbody {n}\n" for n in range(1, 21)}
TITLES = "\n".join(f"- Title {n}" for n in range(1, 21)) + "\n"
CHAPTERS = {f"chapters/ch{n}.txt": f"Chapter {n}\n" for n in range(1, 6)}
TEMP = {"a.tmp": "a", "b.tmp": "b", "c.tmp": "c", "keep.txt": "keep"}
RM_ASKS = ({"tool": "run_shell", "commands": ["rm"]},)
WRITE_ASKS = ({"tool": "write_file"},)
