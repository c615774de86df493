"""The dashboard says how a run's shell runs: missing where the sandbox cannot start (and how to
install it), and loudly UNCONFINED where a policy opts out of it (AppTest)."""

from __future__ import annotations

import pytest

import storage
from dashboard import routes
from tests.support.dashboard_fixtures import add_events, app_at, make_run

pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


def test_launch_does_not_offer_the_shell_without_the_sandbox_and_says_why(store, monkeypatch):
    monkeypatch.setenv("ONLOOP_BWRAP", "/nonexistent/bwrap")
    at = app_at()
    assert not at.exception
    tools = at.multiselect(key="launch_tools")
    assert "run_shell" not in tools.options and "run_shell" not in tools.value
    assert any("apt-get install bubblewrap" in w.value for w in at.warning)


def test_run_page_announces_an_unconfined_shell(store):
    run = make_run(store, "running")
    storage.update_run(
        store,
        run_id=run.id,
        policy={"source": "open.toml", "sandbox": {"unconfined_shell": True}},
    )
    add_events(
        store,
        run.id,
        [
            (
                "run_started",
                {
                    "goal": run.goal,
                    "model": "demo",
                    "tools": ["run_shell"],
                    "shell": {"mode": "unconfined", "network": True, "note": "shell: UNCONFINED"},
                },
            )
        ],
    )
    at = app_at(routes.RUN_PAGE, query={"run": run.id})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("shell is UNCONFINED" in w for w in warnings)  # the header
    assert len([w for w in warnings if "UNCONFINED" in w]) == 2  # and the run_started step


def test_run_page_says_why_a_run_has_no_shell(store):
    run = make_run(store, "running")
    note = "shell: not offered: bubblewrap (bwrap) is not installed: install bubblewrap"
    add_events(
        store,
        run.id,
        [
            (
                "run_started",
                {"goal": run.goal, "tools": [], "shell": {"mode": "unavailable", "note": note}},
            )
        ],
    )
    at = app_at(routes.RUN_PAGE, query={"run": run.id})
    assert not at.exception
    assert any("not offered" in w.value for w in at.warning)
