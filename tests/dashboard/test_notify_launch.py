"""Launch's Notifications box narrows the policy's [notify] channels and events for one run;
the run records the narrowed table, and without channels the box is not drawn."""

from __future__ import annotations

import pytest

import storage
from tests.support import dashboard_fixtures as fx

POLICY = """
webhook_url = "http://127.0.0.1:9/old"

[notify]
dashboard_url = "https://onloop.example.org"

[notify.slack]
url = "http://127.0.0.1:9/slack"

[notify.ntfy]
topic = "onloop-test"
"""


@pytest.fixture
def local_store(tmp_path, monkeypatch):
    yield from fx.open_store(tmp_path, monkeypatch)


def test_a_run_keeps_only_the_channels_and_events_chosen_at_launch(
    local_store, tmp_path, monkeypatch
):
    policy = tmp_path / "onloop.toml"
    policy.write_text(POLICY)
    monkeypatch.setenv("ONLOOP_POLICY", str(policy))
    at = fx.app_at()
    assert at.multiselect(key="launch_notify_channels").value == ["slack", "ntfy", "webhook"]
    at.text_area(key="launch_goal").input("Summarise the notes")
    at.multiselect(key="launch_notify_channels").set_value(["ntfy"])
    at.multiselect(key="launch_notify_events").set_value(["approval_requested"])
    at.button(key="launch_submit").click().run()
    assert not at.exception
    (run,) = storage.list_runs(local_store)
    recorded = run.policy["notify"]
    assert recorded["ntfy"]["topic"] == "onloop-test"
    assert recorded["slack"] is None and recorded["webhook"] is None
    assert run.policy["webhook_url"] is None  # the older key left out too
    assert recorded["events"] == ["approval_requested"]
    assert recorded["dashboard_url"] == "https://onloop.example.org"


def test_no_box_without_channels(local_store, tmp_path, monkeypatch):
    policy = tmp_path / "onloop.toml"
    policy.write_text("[notify]\nevents = ['run_halted']\n")
    monkeypatch.setenv("ONLOOP_POLICY", str(policy))
    at = fx.app_at()
    assert not at.exception
    assert not [m for m in at.multiselect if m.key == "launch_notify_channels"]
