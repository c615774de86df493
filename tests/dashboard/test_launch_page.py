"""The router, its sidebar, and the Launch page (AppTest)."""

from __future__ import annotations

import getpass

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.models.demo_goals import DEMO_GOALS
from agent_core.tools import builtin_tools
from dashboard import routes
from tests.support.dashboard_fixtures import (
    APP,
    TIMEOUT,
    app_at,
    request_approval,
    runs_in_every_status,
)

ALL_PAGES = [
    routes.LAUNCH_PAGE,
    routes.LIVE_PAGE,
    routes.RUN_PAGE,
    routes.APPROVALS_PAGE,
    routes.HISTORY_PAGE,
    routes.INSIGHTS_PAGE,
]


pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


def test_launch_is_the_first_page_and_renders_on_an_empty_store(store):
    at = app_at()
    assert not at.exception
    assert at.title[0].value == "Launch a run"
    assert at.sidebar.metric[0].value == "0"
    assert "demo model" in at.sidebar.text[0].value
    for goal in DEMO_GOALS:
        assert at.button(key=f"launch_demo_{goal.key}").label == goal.title
    assert at.multiselect(key="launch_tools").value == list(builtin_tools())
    assert at.selectbox(key="launch_model").value == "demo"
    assert at.radio(key="launch_autonomy").value == "supervised"
    assert at.number_input(key="launch_max_steps").value == 30
    assert at.number_input(key="launch_max_minutes").value == 10.0


@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_renders_with_runs_in_every_status_and_counts_pending_approvals(store, page):
    runs = runs_in_every_status(store)
    request_approval(store, runs["running"].id)
    at = app_at(page)
    assert not at.exception
    assert at.sidebar.metric[0].label == "Pending approvals"
    assert at.sidebar.metric[0].value == "2"


def test_sidebar_count_follows_the_store(store):
    run = storage.create_run(store, goal="g")
    at = app_at(routes.LIVE_PAGE)
    assert at.sidebar.metric[0].value == "0"
    approval = request_approval(store, run.id)
    at.run()
    assert at.sidebar.metric[0].value == "1"
    storage.decide_approval(store, approval_id=approval.id, decision="approved", decided_by="x")
    at.run()
    assert at.sidebar.metric[0].value == "0"


def test_a_demo_goal_button_fills_the_goal_and_picks_the_demo_model(store, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # openai becomes the default
    at = app_at()
    assert at.selectbox(key="launch_model").value == "openai"
    cleanup = next(g for g in DEMO_GOALS if g.key == "cleanup")
    at.button(key="launch_demo_cleanup").click().run()
    assert at.text_area(key="launch_goal").value == cleanup.goal
    assert at.selectbox(key="launch_model").value == "demo"
    assert not at.warning


def test_launching_queues_the_run_with_its_settings_and_opens_it(store):
    at = app_at()
    at.text_area(key="launch_goal").input("Clean up the temporary files in the workspace")
    at.radio(key="launch_autonomy").set_value("manual")
    at.multiselect(key="launch_tools").set_value(["list_files", "delete_files"])
    at.number_input(key="launch_max_steps").set_value(12)
    at.number_input(key="launch_max_minutes").set_value(2.5)
    at.number_input(key="launch_max_tokens").set_value(4000)
    at.button(key="launch_submit").click().run()

    assert not at.exception
    (run,) = storage.list_runs(store)
    assert run.goal == "Clean up the temporary files in the workspace"
    assert (run.model, run.model_name, run.autonomy) == ("demo", "demo", "manual")
    assert run.tools == ["list_files", "delete_files"]
    assert (run.max_steps, run.max_seconds, run.max_tokens) == (12, 150.0, 4000)
    assert run.max_cost_usd is None
    assert run.status == "queued"
    assert run.created_by == f"{getpass.getuser()} (local)"
    assert at.query_params["run"] == run.id
    assert at.title[0].value == f"Run {run.id}"


def test_an_empty_goal_is_refused_with_the_fix(store):
    at = app_at()
    at.text_area(key="launch_goal").input("   ")
    at.button(key="launch_submit").click().run()
    assert "The goal is empty" in at.error[0].value
    assert "demo goal" in at.error[0].value
    assert storage.count_runs(store) == 0


def test_openai_without_configuration_turns_launch_off_and_says_why(store):
    at = app_at()
    at.selectbox(key="launch_model").select("openai").run()
    assert "Launch is off" in at.warning[0].value and "OPENAI_API_KEY" in at.warning[0].value
    assert "OPENAI_BASE_URL" in at.warning[0].value and "demo model" in at.warning[0].value
    start = at.button(key="launch_submit")
    assert start.disabled and "OPENAI_API_KEY" in start.help
    at.text_area(key="launch_goal").input("What is 2+2?").run()
    assert at.button(key="launch_submit").disabled and storage.count_runs(store) == 0
    at.selectbox(key="launch_model").select("demo").run()  # the demo model always runs
    assert not at.button(key="launch_submit").disabled and not at.warning


def test_openai_with_a_base_url_queues_with_its_model_name(store, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    at = app_at()
    assert not at.button(key="launch_submit").disabled
    at.text_input(key="launch_model_name").input("llama3.1:8b")
    at.text_area(key="launch_goal").input("What is 2+2?")
    at.button(key="launch_submit").click().run()
    (run,) = storage.list_runs(store)
    assert (run.model, run.model_name) == ("openai", "llama3.1:8b")


def test_openai_configured_is_the_default_and_named_in_the_sidebar(store, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ONLOOP_OPENAI_MODEL", "qwen2.5")
    at = app_at()
    assert at.selectbox(key="launch_model").value == "openai"
    assert at.text_input(key="launch_model_name").value == "qwen2.5"
    assert not at.warning
    assert "qwen2.5" in at.sidebar.text[0].value


def test_a_signed_in_person_is_recorded_as_the_launcher(store, monkeypatch, tmp_path):
    signin = tmp_path / "signin.toml"
    signin.write_text(
        '[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\ncookie_secret = "c"\n'
        'client_id = "i"\nclient_secret = "s"\n'
        'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n'
        '[roles]\noperator = ["ana@example.com"]\n'
    )
    monkeypatch.setenv("ONLOOP_AUTH", str(signin))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.user = {
        "is_logged_in": True,
        "email": "ana@example.com",
        "name": "Ana",
        "sub": "42",
        "email_verified": True,
    }
    at.run()
    at.text_area(key="launch_goal").input("What time is it in Tokyo?")
    at.button(key="launch_submit").click().run()
    (run,) = storage.list_runs(store)
    assert run.created_by == "ana@example.com (sub 42)"


def test_an_unopenable_store_is_explained_instead_of_a_traceback(store, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ONLOOP_DATABASE_URL", f"sqlite:///{blocker / 'onloop.db'}")
    at = app_at()
    assert not at.exception
    assert at.error[0].value.startswith("The dashboard cannot open its store: cannot open database")
    assert not at.title  # no page runs without a store
