"""In a real browser: a run calls a real MCP server's tool that the policy gates; a person
approves it in the inbox; it runs and the result is on the Run page."""

from __future__ import annotations

import json
import os
import re

import pytest

import storage
from tests.browser.test_journeys import page, serving  # noqa: F401  (fixture)
from tests.support.mcp_helpers import time_server
from tests.support.run_helpers import wait_for

pytestmark = pytest.mark.browser
# The inbox's Approve has the shortcut A, which its accessible name includes.
APPROVE = re.compile(r"^Approve( Shortcut A)?$")


@pytest.fixture
def onloop_up_with_mcp(tmp_path, fake_openai):
    """`onloop up` under a policy with the time MCP server and a rule that asks about it."""
    server = time_server()
    (tmp_path / "onloop.toml").write_text(
        f'[[mcp_servers]]\nname = "time"\ncommand = {json.dumps(server.command)}\n'
        '[[rules]]\ntool = "mcp__time__*"\naction = "ask"\nreason = "a person checks time calls"\n'
    )
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake_openai.base_url}
    env.pop("ONLOOP_DATABASE_URL", None)
    env.pop("ONLOOP_POLICY", None)
    with serving(tmp_path, env) as (url, store, _):
        yield url, store


def test_a_gated_mcp_call_approved_in_the_browser_runs(onloop_up_with_mcp, fake_openai, page):  # noqa: F811
    url, store = onloop_up_with_mcp
    call = {"name": "mcp__time__get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
    fake_openai.script([{"tool_calls": [call]}, "It is morning in Tokyo."])
    run = storage.create_run(
        store,
        goal="What time is it in Tokyo?",
        model="openai",
        model_name="m",
        autonomy="autonomous",
    )
    wait_for(lambda: storage.count_pending_approvals(store), timeout=90, what="the approval")
    page.goto(f"{url}/approvals")
    page.get_by_text("Asia/Tokyo", exact=False).first.wait_for()
    page.get_by_role("button", name=APPROVE).first.click()
    wait_for(
        lambda: storage.get_run(store, run_id=run.id).status == "succeeded",
        timeout=60,
        what="the run to succeed",
    )
    results = [e for e in storage.events_after(store, run_id=run.id) if e.kind == "tool_result"]
    assert results[0].payload["ok"] and "Asia/Tokyo" in results[0].payload["output"]
    page.goto(f"{url}/?run={run.id}")
    page.get_by_text("mcp__time__get_current_time", exact=False).first.wait_for()
