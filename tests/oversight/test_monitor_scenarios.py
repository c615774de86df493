"""Drift monitors against scenarios, driven through the real worker and loop with the scripted model.

Stuck scenarios (modelled on OpenHands' stuck-detector cases) must be caught within one tool call
of the point where the default thresholds can see them; legitimate work (polling that changes,
reading many files, retries after a transient error, edit-test cycles, the same narration with
different work) must never trip a monitor. `detectable` is the number of tool calls after which
the loop is visible to the default settings (repeat_same_call 4, alternating_window 6 = three
rounds of a cycle, repeat_same_error 3, repeat_same_message 3, poll_patience 10 for a poll that
keeps saying it is still on its way) or a budget is spent. Issue 22's larger suite, written from
reported failures and run in two wordings: test_drift_scenarios.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import storage
from agent_core.tools import ToolError, builtin_tools, registry, tool
from tests.support.run_helpers import Driver, events_of, new_run

# What each scenario tool answers, call after call (the last answer repeats).
# An answer that starts with "ERR:" is raised as a ToolError.
WORLD: dict[str, list[str]] = {}
_NEXT: dict[str, int] = {}


def _answer(name: str) -> str:
    answers = WORLD.get(name) or ["ok"]
    index = _NEXT.get(name, 0)
    _NEXT[name] = index + 1
    text = answers[min(index, len(answers) - 1)]
    if text.startswith("ERR:"):
        raise ToolError(text.removeprefix("ERR:").strip())
    return text


@tool("low", polling=True)
def job_status(job: str) -> str:
    """The status of a background job.

    Args:
        job: The job's name.
    """
    return _answer("job_status")


@tool
def read_doc(path: str) -> str:
    """Read a document.

    Args:
        path: Which document.
    """
    return _answer(f"read_doc:{path}") if f"read_doc:{path}" in WORLD else f"contents of {path}"


@tool
def edit_doc(path: str, text: str) -> str:
    """Replace a document's text.

    Args:
        path: Which document.
        text: The new text.
    """
    return f"edited {path} ({len(text)} characters)"


@tool
def run_tests(target: str) -> str:
    """Run the tests of a target.

    Args:
        target: What to test.
    """
    return _answer("run_tests")


@tool
def fetch(url: str) -> str:
    """Fetch a URL.

    Args:
        url: The address.
    """
    return _answer("fetch")


@tool
def sh(command: str) -> str:
    """Run a command (the answer starts with its exit code).

    Args:
        command: The command line.
    """
    return _answer("sh")


SCENARIO_TOOLS = {t.name: t for t in (job_status, read_doc, edit_doc, run_tests, fetch, sh)}


@pytest.fixture(autouse=True)
def scenario_tools(monkeypatch) -> Iterator[None]:
    tools = {**builtin_tools(), **SCENARIO_TOOLS}
    monkeypatch.setattr(registry, "builtin_tools", lambda: dict(tools))  # the workers' registry
    WORLD.clear()
    _NEXT.clear()
    yield
    WORLD.clear()


# ---------------------------------------------------------------- building scripts


def call(name: str, **arguments: Any) -> dict:
    return {"name": name, "arguments": arguments}


def turn(*calls: dict, text: str = "", **usage: Any) -> dict:
    return {"text": text, "tool_calls": list(calls), **usage}


def done(goal_met: bool = True) -> dict:
    return turn(call("finish", goal_met=goal_met, summary="all done"))


def repeat(item: dict, times: int) -> list[dict]:
    return [item] * times


@dataclass
class Scenario:
    name: str
    script: list[dict]
    world: dict[str, list[str]] = field(default_factory=dict)
    detectable: int | None = None  # stuck: calls after which it can be seen; None: legitimate
    limits: dict[str, Any] = field(default_factory=dict)  # max_steps, max_tokens, ...

    @property
    def stuck(self) -> bool:
        return self.detectable is not None


READ_A = turn(call("read_doc", path="a.md"), text="Reading a.md.")
READ_B = turn(call("read_doc", path="b.md"), text="Reading b.md.")
READ_C = turn(call("read_doc", path="c.md"), text="Reading c.md.")
DISTINCT = [turn(call("read_doc", path=f"notes/{i}.md")) for i in range(3)]

STUCK = [
    Scenario("same call, same result", repeat(READ_A, 12) + [done()], detectable=4),
    Scenario(
        "polling whose output never changes",
        repeat(turn(call("job_status", job="build")), 12) + [done()],
        world={"job_status": ["status: pending"]},
        detectable=10,  # a poll still waiting gets poll_patience polls (issue 22)
    ),
    Scenario(
        "twelve identical calls in one turn",
        [turn(*[call("read_doc", path="a.md")] * 12), done()],
        detectable=4,
    ),
    Scenario("a loop after real work", DISTINCT + repeat(READ_B, 12) + [done()], detectable=7),
    Scenario(
        "the same failing call",
        repeat(turn(call("fetch", url="https://x.test/a")), 10) + [done()],
        world={"fetch": ["ERR: 404 not found"]},
        detectable=3,
    ),
    Scenario(
        "the same error from different arguments",
        [turn(call("fetch", url=f"https://x.test/{i}")) for i in range(10)] + [done()],
        world={"fetch": ["ERR: name resolution failed"]},
        detectable=3,
    ),
    Scenario(
        "a parse error whose position varies",
        [turn(call("run_tests", target=f"t{i}")) for i in range(10)] + [done()],
        world={
            "run_tests": [
                f"ERR: SyntaxError: unexpected token at line {i + 3}, column {7 * i + 1}"
                for i in range(10)
            ]
        },
        detectable=3,
    ),
    Scenario(
        "an error with a new id and time each time",
        [turn(call("fetch", url=f"https://x.test/r{i}")) for i in range(10)] + [done()],
        world={
            "fetch": [
                f"ERR: request 5f{i}c9e0a1b{i}d failed at 2026-11-29T23:0{i}:1{i}Z: upstream reset"
                for i in range(10)
            ]
        },
        detectable=3,
    ),
    Scenario(
        "the same command exits non-zero",
        repeat(turn(call("sh", command="make test")), 10) + [done()],
        world={"sh": ["exit code 2\nmake: *** [test] Error 2"]},
        detectable=3,
    ),
    Scenario(
        "different commands, the same non-zero exit",
        [turn(call("sh", command=f"pytest -k case{i}")) for i in range(10)] + [done()],
        world={"sh": ["exit code 4\nERROR: file or directory not found: tests/"]},
        detectable=3,
    ),
    Scenario("an A-B cycle", [READ_A, READ_B] * 8 + [done()], detectable=6),
    Scenario(
        "an A-B cycle after real work", DISTINCT + [READ_A, READ_B] * 8 + [done()], detectable=9
    ),
    Scenario("an A-B-C cycle", [READ_A, READ_B, READ_C] * 6 + [done()], detectable=9),
    Scenario(
        "an A-B-C cycle over three tools",
        [
            turn(call("read_doc", path="x")),
            turn(call("job_status", job="x")),
            turn(call("run_tests", target="x")),
        ]
        * 6
        + [done()],
        world={"job_status": ["idle"], "run_tests": ["2 failed"]},
        detectable=9,
    ),
    Scenario(
        "an edit-test cycle that changes nothing",
        [
            turn(call("edit_doc", path="m.py", text="fix")),
            turn(call("run_tests", target="m")),
        ]
        * 8
        + [done()],
        world={"run_tests": ["1 failed: test_m"]},
        detectable=6,
    ),
    Scenario(
        "an A-B cycle inside one turn",
        [turn(*[call("read_doc", path=p) for p in ["a.md", "b.md"] * 6]), done()],
        detectable=6,
    ),
    Scenario(
        "a monologue with nothing new",
        repeat(turn(call("read_doc", path="a.md"), text="Let me think about this again."), 10)
        + [done()],
        detectable=4,  # the first turn brought something new; three idle turns follow it
    ),
    Scenario(
        "a monologue calling a tool that does not exist",
        repeat(turn(call("teleport", to="goal"), text="I will teleport to the goal."), 10)
        + [done()],
        detectable=3,
    ),
    Scenario(
        "a batch of identical failing calls",
        [turn(*[call("fetch", url="https://x.test/down")] * 10), done()],
        world={"fetch": ["ERR: connection refused"]},
        detectable=3,
    ),
    Scenario(
        "the step budget",
        [turn(call("read_doc", path=f"d{i}.md")) for i in range(10)] + [done()],
        detectable=3,
        limits={"max_steps": 3},
    ),
    Scenario(
        "the step budget with batches",
        [turn(*[call("read_doc", path=f"d{i}-{j}.md") for j in range(3)]) for i in range(6)]
        + [done()],
        detectable=6,
        limits={"max_steps": 2},
    ),
    Scenario(
        "a token budget blown by one turn",
        [turn(*[call("read_doc", path=f"d{i}.md") for i in range(10)], tokens_in=5000), done()],
        detectable=0,
        limits={"max_tokens": 1000},
    ),
    Scenario(
        "a cost budget blown by one turn",
        [turn(*[call("read_doc", path=f"d{i}.md") for i in range(10)], cost_usd=0.5), done()],
        detectable=0,
        limits={"max_cost_usd": 0.1},
    ),
    Scenario(
        "a token budget spent over turns",
        [turn(call("read_doc", path=f"d{i}.md"), tokens_in=400) for i in range(10)] + [done()],
        detectable=2,  # the third turn's 400 tokens spend it, before its call runs
        limits={"max_tokens": 1000},
    ),
]

LEGITIMATE = [
    Scenario(
        "polling that changes",
        repeat(turn(call("job_status", job="build"), text="Checking the build."), 8) + [done()],
        world={
            "job_status": [
                "queued",
                "running 10%",
                "running 30%",
                "running 55%",
                "running 80%",
                "running 95%",
                "linking",
                "passed",
            ]
        },
    ),
    Scenario(
        "polling that stays the same a little while",
        repeat(turn(call("job_status", job="deploy")), 7) + [done()],
        world={
            "job_status": ["pending", "pending", "pending", "running", "running", "running", "ok"]
        },
    ),
    Scenario(
        "reading many files",
        [turn(call("read_doc", path=f"src/f{i}.py"), text="Reading.") for i in range(15)]
        + [done()],
    ),
    Scenario(
        "reading many files in one turn",
        [turn(*[call("read_doc", path=f"src/g{i}.py") for i in range(12)]), done()],
    ),
    Scenario(
        "a retry after a transient error",
        repeat(turn(call("fetch", url="https://x.test/data")), 3) + [done()],
        world={"fetch": ["ERR: 503 Service Unavailable", "ERR: 503 Service Unavailable", "data"]},
    ),
    Scenario(
        "edit-test cycles that make progress",
        [
            step
            for i in range(4)
            for step in (
                turn(call("edit_doc", path="m.py", text=f"attempt {i}")),
                turn(call("run_tests", target="m")),
            )
        ]
        + [done()],
        world={"run_tests": ["3 failed", "2 failed", "1 failed", "all passed"]},
    ),
    Scenario(
        "the same narration with different work",
        [
            turn(call("read_doc", path=f"ch{i}.md"), text="Reading the next chapter.")
            for i in range(8)
        ]
        + [done()],
    ),
    Scenario(
        "re-reading a file after each edit",
        [
            step
            for i in range(4)
            for step in (
                turn(call("read_doc", path="cfg.toml")),
                turn(call("edit_doc", path="cfg.toml", text=f"v{i + 1}")),
            )
        ]
        + [done()],
        world={"read_doc:cfg.toml": ["v0", "v1", "v2", "v3"]},
    ),
    Scenario(
        "commands that succeed",
        [turn(call("sh", command=f"wc -l part{i}.txt")) for i in range(10)] + [done()],
        world={"sh": [f"exit code 0\n{i * 7} part{i}.txt" for i in range(10)]},
    ),
    Scenario(
        "a failing build fixed",
        [
            turn(call("sh", command="make")),
            turn(call("edit_doc", path="Makefile", text="fixed")),
            turn(call("sh", command="make")),
        ]
        + [done()],
        world={"sh": ["exit code 2\nmissing separator", "exit code 0\nbuilt"]},
    ),
    Scenario(
        "different errors, then success",
        repeat(turn(call("fetch", url="https://x.test/api")), 3) + [done()],
        world={"fetch": ["ERR: timed out", "ERR: 429 rate limited", "payload"]},
    ),
    Scenario(
        "paging through results",
        [turn(call("fetch", url=f"https://x.test/items?page={i}")) for i in range(8)] + [done()],
        world={"fetch": [f"items {i * 20 + 1}-{i * 20 + 20}" for i in range(8)]},
    ),
    Scenario(
        "two pollers, both moving",
        [
            step
            for i in range(5)
            for step in (
                turn(call("job_status", job="build")),
                turn(call("fetch", url="https://x.test/log")),
            )
        ]
        + [done()],
        world={
            "job_status": [f"running step {i}" for i in range(5)],
            "fetch": [f"log line {i * 10}" for i in range(5)],
        },
    ),
    Scenario(
        "the same error twice, then a fix",
        [
            turn(call("run_tests", target="a")),
            turn(call("run_tests", target="a")),
            turn(call("edit_doc", path="a.py", text="fix")),
            turn(call("run_tests", target="a")),
        ]
        + [done()],
        world={
            "run_tests": ["ERR: ImportError: no module x", "ERR: ImportError: no module x", "ok"]
        },
    ),
]


def _drive(store, scenario: Scenario) -> tuple[Any, list[Any]]:
    from agent_core.models.scripted import ScriptedModel

    WORLD.update(scenario.world)
    run = new_run(store, scenario.name, model="scripted", autonomy="autonomous", **scenario.limits)
    outcome = Driver(store, run, ScriptedModel(scenario.script)).start().join()
    return outcome, storage.events_after(store, run_id=run.id)


def _ran_before_the_trip(events: list[Any]) -> int:
    """Tool calls that ran (or failed running) before the first monitor tripped."""
    trip = next((e.seq for e in events if e.kind == "drift"), None)
    return sum(
        1
        for e in events
        if e.kind == "tool_result"
        and e.payload.get("outcome") in ("ok", "error")
        and (trip is None or e.seq < trip)
    )


@pytest.mark.parametrize("scenario", STUCK, ids=[s.name for s in STUCK])
def test_a_stuck_run_is_caught_within_one_step_of_being_detectable(store, scenario):
    outcome, events = _drive(store, scenario)
    drifts = [e for e in events if e.kind == "drift"]
    assert outcome.status == "paused" and len(drifts) == 1, (outcome, drifts)
    ran = _ran_before_the_trip(events)
    assert scenario.detectable is not None and ran <= scenario.detectable + 1, (ran, drifts)


@pytest.mark.parametrize("scenario", LEGITIMATE, ids=[s.name for s in LEGITIMATE])
def test_legitimate_work_never_trips_a_monitor(store, scenario):
    outcome, events = _drive(store, scenario)
    assert [e.payload for e in events if e.kind == "drift"] == []
    assert outcome.status == "succeeded", outcome


def test_the_suite_is_as_large_as_promised():
    assert len(STUCK) >= 20 and len(LEGITIMATE) >= 12
    assert all(s.stuck for s in STUCK) and not any(s.stuck for s in LEGITIMATE)


def test_a_batch_that_trips_stops_there_and_asks_once(store):
    """Twelve identical calls in one turn: four run, the rest are recorded as not run (so a
    resume does not run them unasked), one drift event, one pause."""
    outcome, events = _drive(store, STUCK[2])
    results = [e.payload["outcome"] for e in events if e.kind == "tool_result"]
    assert results == ["ok"] * 4 + ["skipped"] * 8
    assert len(events_of(store, events[0].run_id, "drift")) == 1
    assert outcome.status == "paused" and "repetition" in outcome.reason
