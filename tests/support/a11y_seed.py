"""A store with something on every page, for the accessibility checks in real Chromium."""

from __future__ import annotations

from datetime import timedelta

import storage
from tests.support import dashboard_fixtures, dashboard_seed


def seed_every_page(store: storage.Store) -> dict[str, storage.Run]:
    """Finished runs over a few days (History, Insights), a run with a whole story (Run page),
    a running one (Live) and two pending approvals (Approvals). No queued run: the worker would
    claim it and the pages would change under the check."""
    now = storage.utcnow()
    runs: dict[str, storage.Run] = {}
    for day, status in enumerate(["succeeded", "failed", "halted", "succeeded", "interrupted"]):
        runs[f"{status}-{day}"] = dashboard_seed.make_run(
            store,
            goal=f"Summarise the notes, day {day}",
            status=status,
            created_at=now - timedelta(days=day, hours=1),
            tokens_in=1200 * (day + 1),
            tokens_out=300,
            cost_usd=0.004 * (day + 1),
        )
    story = dashboard_seed.make_run(store, goal="Summarise the workspace", status="succeeded")
    dashboard_fixtures.add_events(store, story.id, dashboard_fixtures.story(story.id))
    runs["story"] = story
    waiting = dashboard_seed.make_run(store, goal="Clean up temporary files", status="waiting")
    dashboard_seed.make_approval(store, waiting)
    dashboard_seed.make_approval(
        store,
        waiting,
        tool="write_file",
        arguments={"path": "report.md", "content": "# Report\n"},
        risk="medium",
        summary="write 9 characters to report.md",
    )
    runs["waiting"] = waiting
    runs["paused"] = dashboard_seed.make_run(store, goal="Wait for a build", status="paused")
    return runs
