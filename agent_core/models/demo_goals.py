"""The goals the offline demo model can pursue, and the workspace it pursues them in."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

SEED_DIR = Path(__file__).parent / "demo_seed"


@dataclass(frozen=True)
class DemoGoal:
    key: str
    title: str
    goal: str
    shows: str  # what watching this run demonstrates, in one sentence


DEMO_GOALS: tuple[DemoGoal, ...] = (
    DemoGoal(
        key="arithmetic",
        title="Do some arithmetic",
        goal="What is 17.5% of 2,340, plus 118?",
        shows="One low-risk tool call (calculator) and an answer that quotes its result.",
    ),
    DemoGoal(
        key="report",
        title="Summarise the workspace",
        goal="Summarise the files in the workspace into report.md",
        shows=(
            "Reads each note and writes report.md: edits inside the run's workspace need "
            "nobody under supervised (choose manual to be asked, and reject with "
            '"call it summary.md" to watch it correct itself).'
        ),
    ),
    DemoGoal(
        key="invoices",
        title="Extract invoice totals",
        goal="Extract the totals of the sample invoices into invoices.csv",
        shows=(
            "Reads four invoices, sums them with the calculator and writes a CSV (asked first "
            "under manual)."
        ),
    ),
    DemoGoal(
        key="cleanup",
        title="Clean up temporary files",
        goal="Clean up the temporary files in the workspace",
        shows=(
            "Deleting five files at once is destructive: it asks even when autonomous; "
            'reject it with "keep cache.tmp" and it retries without that file.'
        ),
    ),
    DemoGoal(
        key="drift",
        title="Wait for a build (drifts on purpose)",
        goal="Wait until the build passes, then report the build status",
        shows=(
            "The build never passes: the agent re-reads the same file until the repetition "
            'monitor pauses it; guidance saying "stop" ends it.'
        ),
    ),
    DemoGoal(
        key="time",
        title="Tell the time in Tokyo",
        goal="What time is it in Tokyo?",
        shows="A single current_time call with a timezone argument.",
    ),
)


def demo_goal(key: str) -> DemoGoal:
    """The demo goal with this key; KeyError names the known keys."""
    for goal in DEMO_GOALS:
        if goal.key == key:
            return goal
    raise KeyError(f"no demo goal {key!r}; known: {', '.join(g.key for g in DEMO_GOALS)}")


def seed_demo_workspace(path: Path) -> None:
    """Copy the demo files into `path` (created if missing); files already there are kept."""
    path.mkdir(parents=True, exist_ok=True)
    for source in sorted(SEED_DIR.rglob("*")):
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        target = path / source.relative_to(SEED_DIR)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
