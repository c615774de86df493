"""`onloop insights`: the approval-fatigue figures as a table and as JSON, and its mistakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta

import pytest
from typer.testing import CliRunner

import storage
from agent_core.cli.app import app
from agent_core.oversight import fatigue
from tests.support import fatigue_seed
from tests.support.fatigue_seed import FIGURES


def insights(store: storage.Store, *args: str):
    result = CliRunner().invoke(app, ["insights", "--db", store.url, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def onloop(*args: str, cwd):
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0"}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_DATABASE_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def seeded(store):
    return fatigue_seed.seed_asks(store)


def test_the_table_shows_every_figure(store, seeded):
    shown = insights(store)
    assert shown.exit_code == 0
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    assert lines[0] == "Approval fatigue, runs created in the last 30 days (UTC)"
    expected = [
        "runs 3 · tool calls 40 · asks 15 · 5.0 asks per run · 37.5 per 100 tool calls",
        "approved unchanged 8 53%",
        "approved with an edit 1 7%",
        "pending 1 7%",
        "time to decide, 11 decisions by people: median 1.2 s · p90 12.0 s",
        "under 2 s (rubber-stamping): 7 (64%)",
        "ann 6 1.1 s 5 FLAGGED: median under 2 s",
        "bob 3 8.0 s 0",
        "cy 2 0.3 s 2",  # fast, but too few decisions to flag
        "asks by class: read 3 · build 4 · write 3 · network 1 · install 1 · destructive 2 · "
        "unclassified 1",
        "10 default (risk × autonomy)",
        "5 ask-shell",
        "7 run_shell",
        "1 delete_files",
        "allowances given: 3 (prefix 1 · folder 1 · domain 1)",
        "allowances revoked: 2",
    ]
    for line in expected:
        assert line in lines, line
    assert not [line for line in lines if "suggested rules" in line]


def test_json_carries_every_figure(store, seeded):
    data = json.loads(insights(store, "--json").stdout)
    assert data["period"]["days"] == 30 and data["period"]["since"].endswith("T00:00:00")
    for name in ("runs", "tool_calls", "asks", "asks_per_run", "asks_per_100_calls", "outcomes"):
        assert data[name] == FIGURES[name], name
    assert [(c["name"], c["count"]) for c in data["by_class"]] == FIGURES["by_class"]
    assert [(r["name"], r["count"]) for r in data["by_rule"]] == FIGURES["by_rule"]
    assert (data["median_s"], data["p90_s"], data["fast"]) == (1.2, 12.0, 7)
    assert data["allowances"] == FIGURES["allowances"] and data["revoked"] == 2
    assert [p["by"] for p in data["people"] if p["flagged"]] == ["ann"]
    assert data["savings"] is None


def test_one_run_by_its_prefix_one_model_and_all_time(store, seeded):
    run_3 = seeded.runs[2]
    data = json.loads(insights(store, "--run", run_3.id[:8], "--json").stdout)
    assert (data["period"]["run"], data["runs"], data["asks"]) == (run_3.id, 1, 5)
    shown = insights(store, "--run", run_3.id[:8]).stdout
    assert shown.startswith(f"Approval fatigue, run {run_3.id}\n")
    data = json.loads(insights(store, "--model", "gpt-4o-mini", "--json").stdout)
    assert (data["runs"], data["asks"], data["tool_calls"]) == (1, 4, 10)
    data = json.loads(insights(store, "--days", "0", "--json").stdout)
    assert (data["period"]["days"], data["runs"], data["asks"]) == (None, 4, 16)


def test_the_savings_of_the_suggested_rules(store, seeded, monkeypatch):
    @dataclass(frozen=True)
    class Suggested:
        saved_asks: int
        label: str

    given = [Suggested(5, "allow pytest *"), Suggested(3, "allow git status")]
    monkeypatch.setattr(fatigue, "SUGGESTIONS", lambda opened: given)
    shown = insights(store).stdout
    assert (
        "suggested rules: 8 asks (50% of every ask on record) would have been saved by 2 "
        "suggested rules"
    ) in shown  # 8 of the 16 asks on record
    data = json.loads(insights(store, "--json").stdout)
    assert data["savings"] == {
        "asks": 8,
        "share": 0.5,
        "rules": 2,
        "labels": ["allow pytest *", "allow git status"],
    }


def test_an_empty_store_says_so_plainly(store):
    shown = insights(store)
    assert shown.exit_code == 0
    assert shown.stdout.startswith("no runs recorded yet: nothing to measure.")


def test_a_period_without_runs_names_a_longer_one(store):
    fatigue_seed.seed_asks(store, now=storage.utcnow() - timedelta(days=40))
    shown = insights(store, "--days", "7").stdout
    assert "no runs in this period; try a longer one (--days 90, or --days 0)" in shown
    assert "asks 15" in insights(store, "--days", "90").stdout


def test_runs_that_never_asked(store):
    run = storage.create_run(store, goal="read only")
    storage.add_usage(store, run_id=run.id, tool_calls=12)
    shown = insights(store).stdout
    assert "runs 1 · tool calls 12 · asks 0 · 0.0 asks per run" in shown
    assert "nothing asked a person in this period" in shown


@pytest.mark.parametrize("days", ["-1", "36501"])
def test_a_bad_days_names_the_range(tmp_path, days):
    done = onloop("insights", "--days", days, "--db", str(tmp_path / "none.db"), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--days must be between 0 (all time) and 36,500, e.g. --days 30" in done.stderr


def test_a_missing_store_or_run_is_one_line(tmp_path, store):
    done = onloop("insights", "--db", str(tmp_path / "none.db"), cwd=tmp_path)
    assert done.returncode == 2 and "no onloop store at" in done.stderr
    done = onloop(
        "insights", "--run", "nosuchrun", "--db", str(tmp_path / "onloop.db"), cwd=tmp_path
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: no run")


def test_names_from_the_store_are_shown_not_obeyed(store):
    run = storage.create_run(store, goal="g")
    hostile = fatigue_seed.Ask(
        "tool\x1b[2J", "read", "eve\x1b]0;owned\x07", wait_s=1.0, rule="rule\nfake line"
    )
    fatigue_seed.ask_once(store, run, hostile, storage.utcnow() - timedelta(minutes=1))
    shown = insights(store).stdout
    assert "\x1b" not in shown and "\x07" not in shown
    assert "tool\\x1b[2J" in shown and "eve\\x1b]0;owned\\x07" in shown
    assert "rule\\x0afake line" in shown


def test_a_yes_run_counts_as_approved_by_yes_not_as_a_person(tmp_path):
    db = str(tmp_path / "onloop.db")
    goal = "Extract the totals of the sample invoices into invoices.csv"
    assert (
        onloop("run", goal, "--yes", "--autonomy", "manual", "--db", db, cwd=tmp_path).returncode
        == 0
    )
    data = json.loads(onloop("insights", "--json", "--db", db, cwd=tmp_path).stdout)
    assert data["asks"] >= 1
    assert data["outcomes"]["approved by --yes"] == data["asks"]
    assert (data["decisions"], data["people"]) == (0, [])
