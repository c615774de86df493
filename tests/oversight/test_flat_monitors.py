"""The drift monitors cost the same per call at step 2,000 as at step 100, by count: the checks
read the keys of a bounded window of observations, what the monitors remember stays bounded, and
the progress judge's view of the conversation is its last messages, never a copy of the rest."""

from __future__ import annotations

from typing import Any

from agent_core.oversight import monitors as monitors_module
from agent_core.oversight.drift_checks import MAX_CYCLE, Observation
from agent_core.oversight.judge import RECENT_MESSAGES, transcript
from agent_core.oversight.monitors import RepetitionMonitor
from agent_core.oversight.policy import MonitorSettings
from agent_core.oversight.run_digest import FILES_SHOWN, RESULTS_KEPT

STEPS = 2000
reads = [0]


class CountedObservation(Observation):
    """An Observation that counts how often a check reads its key."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name == "key":
            reads[0] += 1
        return super().__getattribute__(name)


def _call(monitor: RepetitionMonitor, step: int) -> None:
    """A long run's calls: write a new note, read it back, now and then a calculation."""
    path = f"notes/note{step // 3}.md"
    if step % 3 == 0:
        content = f"note {step}: " + " ".join(f"w{(step * 7 + i) % 997}" for i in range(8))
        monitor.observe("write_file", {"path": path, "content": content}, True, "wrote it")
    elif step % 3 == 1:
        monitor.observe("read_file", {"path": path}, True, f"note {step - 1}: read back")
    else:
        monitor.observe("calculator", {"expression": f"{step}*3"}, True, str(step * 3))


def test_the_checks_read_a_bounded_window_of_keys_however_long_the_run(monkeypatch):
    monkeypatch.setattr(monitors_module, "Observation", CountedObservation)
    settings = MonitorSettings()
    monitor = RepetitionMonitor(settings, actions=frozenset({"write_file"}))
    per_step = []
    for step in range(STEPS):
        monitor.start_turn(f"step {step}")
        _call(monitor, step)
        reads[0] = 0
        assert monitor.check() is None
        monitor.end_turn()
        per_step.append(reads[0])
    assert len(monitor.steps) == settings.window  # the window, not the run
    # Every period of a cycle reads at most its span (two rounds of the longest period),
    # the other checks one pass of the window each.
    bound = sum(2 * max(p, 3) for p in range(2, MAX_CYCLE + 1)) + 4 * settings.window
    assert max(per_step) <= bound
    # The same calls cost the same reads at step ~2,000 as at step ~100.
    assert per_step[STEPS - 30 : STEPS] == per_step[99:129]


def test_what_the_monitors_remember_stays_bounded():
    settings = MonitorSettings()
    monitor = RepetitionMonitor(settings, actions=frozenset({"write_file"}))
    sizes = {}
    for step in range(STEPS):
        _call(monitor, step)
        if step + 1 in (500, STEPS):
            sizes[step + 1] = len(monitor.memory._seen)
    horizon = monitor.memory.horizon
    assert sizes[STEPS] <= 3 * horizon * 10  # a few lines per call, over twice the horizon
    assert sizes[STEPS] <= 2 * sizes[500]
    assert len(monitor.digest.files) <= 4 * FILES_SHOWN
    summary = monitor.summary().splitlines()
    assert len(summary) <= 3 + RESULTS_KEPT and len(monitor.digest.results) <= RESULTS_KEPT


class CountedList(list):
    """A conversation that counts the messages handed out by iteration and slicing."""

    handed = 0

    def __iter__(self):
        CountedList.handed += len(self)
        return super().__iter__()

    def __getitem__(self, index):
        got = super().__getitem__(index)
        CountedList.handed += len(got) if isinstance(index, slice) else 1
        return got


def test_the_judge_reads_the_last_messages_not_the_history():
    messages = CountedList(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "goal"}]
        + [{"role": "tool", "content": f"result {n}"} for n in range(STEPS)]
    )
    CountedList.handed = 0
    text = transcript(messages)
    assert text.splitlines()[-1] == f"tool: result {STEPS - 1}"
    assert len(text.splitlines()) == RECENT_MESSAGES
    assert CountedList.handed <= RECENT_MESSAGES
