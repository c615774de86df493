"""Issue 22's scenario suite: 46 stuck or drifting runs and 38 legitimate long or repetitive runs,
each written from a reported failure of an agent project (the URL on its builder), each run in two
wordings (identical each turn, and varied as real models vary), through the real worker and loop.

A stuck run must be caught within two tool calls of the point where the default thresholds can
see it (and not before its stuck part starts); a legitimate one must never trip a monitor and must
end `succeeded`. The calls are also replayed straight into a monitor (what benchmarks/monitors.py
does, also for the previous monitor): the replay must trip exactly where the loop did. Off-goal
drift, the progress judge's part, runs against a fake judge server in test_progress_judge.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import storage
from agent_core.oversight.monitors import RepetitionMonitor
from agent_core.oversight.policy import MonitorSettings, Policy, Rule
from agent_core.tools import builtin_tools, registry
from tests.oversight.drift_scenarios_cycles import CYCLES
from tests.oversight.drift_scenarios_repeats import REPEATS
from tests.oversight.drift_scenarios_unlisted import UNLISTED_STUCK, UNLISTED_WORK
from tests.oversight.drift_scenarios_waiting import WAITING
from tests.oversight.drift_scenarios_work import WORK
from tests.support.drift_harness import (
    SCRIPTED_TOOLS,
    Builder,
    Scenario,
    Wording,
    load_answers,
    replay,
    script,
    seed,
)
from tests.support.run_helpers import Driver, new_run

STUCK: list[Builder] = REPEATS + CYCLES + UNLISTED_STUCK
LEGITIMATE: list[Builder] = WAITING + WORK + UNLISTED_WORK
WORDINGS = (Wording(False), Wording(True))
DELETES = Rule(tool="delete_files", action="allow", name="scenarios may delete their files")


def _cases(builders: list[Builder]) -> list[Any]:
    return [
        pytest.param(build, wording, id=f"{build.__name__}-{wording.name}")
        for build in builders
        for wording in WORDINGS
    ]


@pytest.fixture(autouse=True)
def scripted_tools(monkeypatch, tmp_path) -> Iterator[None]:
    tools = {**builtin_tools(), **SCRIPTED_TOOLS}
    monkeypatch.setattr(registry, "builtin_tools", lambda: dict(tools))  # the workers' registry
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    yield


def _drive(store, scenario: Scenario, folder: Path) -> tuple[Any, list[Any]]:
    from agent_core.models.scripted import ScriptedModel

    load_answers(scenario)
    run = new_run(
        store,
        scenario.name,
        model="scripted",
        autonomy="autonomous",
        policy=Policy(rules=[DELETES]),
        max_steps=len(scenario.turns) + 5,
        seed_from=str(seed(scenario, folder)),
    )
    outcome = Driver(store, run, ScriptedModel(script(scenario))).start().join()
    return outcome, storage.events_after(store, run_id=run.id)


def _ran_before_the_trip(events: list[Any]) -> int | None:
    """Tool calls that ran before the first monitor tripped; None when none tripped."""
    trip = next((e.seq for e in events if e.kind == "drift"), None)
    if trip is None:
        return None
    ran = [e for e in events if e.kind == "tool_result" and e.seq < trip]
    return sum(1 for e in ran if e.payload.get("outcome") in ("ok", "error", "invalid"))


def _replayed(scenario: Scenario) -> int | None:
    return replay(
        scenario,
        lambda reader, actions: RepetitionMonitor(
            MonitorSettings(), actions=actions, reader=reader
        ),
    )


@pytest.mark.parametrize(("build", "wording"), _cases(STUCK))
def test_a_stuck_run_is_caught_within_two_calls_of_being_detectable(
    store, tmp_path, build, wording
):
    scenario = build(wording)
    outcome, events = _drive(store, scenario, tmp_path / "seed")
    drifts = [e.payload for e in events if e.kind == "drift"]
    assert outcome.status == "paused" and len(drifts) == 1, (outcome, drifts)
    assert not drifts[0]["monitor"].startswith("budget"), drifts
    ran = _ran_before_the_trip(events)
    detectable = scenario.detectable_in(wording)
    assert ran is not None and scenario.starts <= ran <= detectable + 2, (ran, detectable, drifts)
    assert _replayed(scenario) == ran, "the replay must trip where the loop did"


@pytest.mark.parametrize(("build", "wording"), _cases(LEGITIMATE))
def test_legitimate_work_never_trips_a_monitor(store, tmp_path, build, wording):
    scenario = build(wording)
    outcome, events = _drive(store, scenario, tmp_path / "seed")
    assert [e.payload for e in events if e.kind == "drift"] == []
    assert outcome.status == "succeeded", outcome
    results = [e for e in events if e.kind == "tool_result"]
    assert len(results) == scenario.calls and _replayed(scenario) is None


def test_the_suite_is_as_large_as_issue_22_asks_and_every_scenario_cites_its_source():
    stuck = [build(Wording(False)) for build in STUCK]
    legit = [build(Wording(False)) for build in LEGITIMATE]
    assert len(stuck) >= 30 and len(legit) >= 30
    assert all(s.stuck for s in stuck) and not any(s.stuck for s in legit)
    for scenario in stuck + legit:
        assert scenario.source.startswith("https://github.com/"), scenario.name
    names = [s.name for s in stuck + legit]
    assert len(set(names)) == len(names), "each scenario has its own name"


def test_the_two_wordings_differ_in_words_and_arguments_not_in_what_the_tools_answer():
    varied = 0
    for build in STUCK + LEGITIMATE:
        same, other = build(Wording(False)), build(Wording(True))
        assert [c.answer for t in same.turns for c in t.calls] == [
            c.answer for t in other.turns for c in t.calls
        ], same.name
        varied += same.turns != other.turns
    assert varied >= 70  # nearly every scenario reads differently in the varied wording
