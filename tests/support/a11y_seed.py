"""A store with something on every page, for the accessibility checks in real Chromium."""

from __future__ import annotations

from datetime import timedelta

import storage
from tests.support import dashboard_fixtures, dashboard_seed

WIDE = "summary.md " + "and a long line of the report " * 12
WIDE_CALL = {
    "tool_call_id": "c3",
    "tool": "write_file",
    "arguments": {"path": WIDE},
    "risk": "medium",
    "verdict": "allow",
    "rule": None,
    "reason": "writes in the workspace",
}
WIDE_STEP = {
    "step": 3,
    "text": "Writing the summary.",
    "tool_calls": [{"id": "c3", "name": "write_file", "arguments": f'{{"path": "{WIDE}"}}'}],
    "tokens_in": 90,
    "tokens_out": 40,
    "cost_usd": 0.001,
    "latency_s": 0.3,
    "model_name": "demo",
}


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
    events = dashboard_fixtures.story(story.id)
    # A line wider than the page (would be a scrolling block): its arguments show on the tool call.
    events[-2:-2] = [("model_call", WIDE_STEP), ("tool_call", WIDE_CALL)]
    dashboard_fixtures.add_events(store, story.id, events)
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
