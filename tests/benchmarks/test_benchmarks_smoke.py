"""The side-by-side benchmarks (benchmarks/chat_server.py, peers.py, durability.py, throughput.py) and the drift
monitors' (monitors.py) run end to end in a tiny configuration, so they cannot rot. Nothing here asserts a timing: only that every
framework made the conversation it was given and the scripts print their tables.

The onloop and bare-openai parts always run; LangGraph and the Agents SDK parts run when the
`bench` extra is installed (`pip install -e '.[bench]'`), and are skipped saying so otherwise."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
PEERS_INSTALLED = all(
    importlib.util.find_spec(m) is not None for m in ("langgraph", "langchain_openai", "agents")
)
NO_PEERS = "the bench extra is not installed: pip install -e '.[bench]'"

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
        },
    }
]
FINISH = {"type": "function", "function": {"name": "finish", "parameters": {"type": "object"}}}


def run_script(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done


@pytest.fixture
def chat_server():
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "chat_server.py"), "--steps", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening http://127.0.0.1:"), line
        yield line.split(" ", 1)[1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_chat_server_scripts_the_conversation(chat_server):
    client = openai.OpenAI(base_url=chat_server, api_key="k", max_retries=0)
    user = [{"role": "user", "content": "add"}]

    first = client.chat.completions.create(model="bench", messages=user, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "calculator",
        {"expression": "0+1"},
    )
    assert first.choices[0].finish_reason == "tool_calls"

    # After steps-1 tool results (3 steps by default here; 2 through the model name): the end.
    one_result = user + [{"role": "tool", "tool_call_id": call.id, "content": "1"}]
    assistant = {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]}
    history = user + [assistant, one_result[-1]]
    second = client.chat.completions.create(model="bench", messages=history, tools=TOOLS)
    assert second.choices[0].message.tool_calls[0].function.arguments == '{"expression": "1+1"}'
    text = client.chat.completions.create(model="bench-s2", messages=history, tools=TOOLS)
    assert text.choices[0].message.content == "Done after 1 tool calls."
    assert not text.choices[0].message.tool_calls

    # onloop's way to end: the finish tool, streamed, with usage at the end.
    stream = client.chat.completions.create(
        model="bench-s2",
        messages=history,
        tools=TOOLS + [FINISH],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert [c.function.name for c in calls] == ["finish"]
    assert json.loads(calls[0].function.arguments)["goal_met"] is True
    assert chunks[-1].usage.total_tokens == 19

    # onloop's final goal check gets a yes.
    check = client.chat.completions.create(
        model="bench",
        messages=[{"role": "system", "content": "You check whether an agent met its goal."}],
    )
    assert json.loads(check.choices[0].message.content)["met"] is True

    with urllib.request.urlopen(f"{chat_server}/stats") as response:
        assert json.loads(response.read()) == {"requests": 5, "inflight": 0}


def test_chat_server_refuses_what_it_cannot_answer(chat_server):
    bad = urllib.request.Request(
        f"{chat_server}/chat/completions", data=b"{not json", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad)
    assert refused.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{chat_server}/embeddings")
    assert missing.value.code == 404


def test_peers_onloop_at_both_durabilities_and_bare_openai():
    done = run_script(
        "benchmarks/peers.py", "--steps", "3", "--reps", "1", "--warmup", "0",
        "--frameworks", "bare,onloop,onloop-full",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    figure = r"\d+\.\d+ \(\d+\.\d+-\d+\.\d+\)\s+\d+\.\d+\s+1$"  # median (min-max), CPU, rounds
    assert re.search(r"^bare openai \(no store\)\s+" + figure, out, re.M), out
    assert re.search(r"^onloop \(claim->end\)\s+" + figure, out, re.M), out
    assert re.search(r"^onloop FULL \(claim->end\)\s+" + figure, out, re.M), out
    assert re.search(r"^ratio onloop-full / onloop: \d+\.\d+ \(.*\) per round", out, re.M), out
    start = r"^date .*; \d+ cores; load average \(1/5/15 min\) at start [\d. ]+; databases on \S+$"
    assert re.search(start, out, re.M), out
    assert re.search(r"^load average at end [\d.]+ [\d.]+ [\d.]+$", out, re.M), out
    assert "  onloop      WAL, synchronous=NORMAL; FULL for each tool start" in out
    assert "  onloop-full WAL, synchronous=FULL (every commit" in out
    assert "only 1 rounds: a smoke run, not figures to quote" in out


@pytest.mark.skipif(not PEERS_INSTALLED, reason=NO_PEERS)
def test_peers_langgraph_and_agents_sdk():
    done = run_script(
        "benchmarks/peers.py", "--steps", "3", "--reps", "1", "--warmup", "0",
        "--frameworks", "langgraph,agents",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^LangGraph\+SqliteSaver\s+\d+\.\d+ \(", out, re.M), out
    assert re.search(r"^Agents SDK\+SQLiteSess\.\s+\d+\.\d+ \(", out, re.M), out
    # Read back from the peers' own connections: what onloop-full is compared at.
    assert "  langgraph   WAL, synchronous=FULL (every commit)" in out, out
    assert "  agents      WAL, synchronous=FULL (every commit)" in out, out


def test_peers_names_a_wrong_framework_in_one_line():
    done = run_script("benchmarks/peers.py", "--frameworks", "bare,crewai")
    assert done.returncode == 2
    assert "--frameworks takes bare,onloop,onloop-full,langgraph,agents (got ['crewai'])" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_durability_counts_an_fsync_per_tool_start_by_default_and_per_commit_at_full():
    done = run_script("benchmarks/durability.py", "--steps", "3", "--rounds", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {
        m.group(1): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r"^(normal|full)\s+(\d+\.\d)\s+(\d+\.\d)\s", done.stdout, re.M)
    }
    commits, fsyncs = rows["normal"]
    assert fsyncs == round(2 / 3, 1)  # 3 model calls: 2 tool starts, each fsynced
    assert commits > fsyncs
    assert rows["full"] == (commits, commits)  # the same commits, every one fsynced
    assert re.search(r"^ratio full / normal per round: ms \d+\.\d+", done.stdout, re.M)
    assert "load average at end" in done.stdout


@pytest.mark.timeout(400)
def test_throughput_onloop_workers_and_memory():
    done = run_script(
        "benchmarks/throughput.py", "--runs", "3", "--calls", "2", "--latency-ms", "50",
        "--concurrency", "2", "--processes", "1", "--zero-runs", "3", "--zero-concurrency", "2",
        "--memory-runs", "2", "--memory-latency-ms", "3000", "--skip", "peers", "--repeat", "2",
        timeout=380,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # every run succeeded (the "ok" column), at latency and at zero latency, in every round; each
    # row says the workers' CPU per call and the load it was measured at
    load = r"load [\d.]+/[\d.]+ on \d+ cores$"
    row = r"^sqlite\s+1\s+2(\s+[\d.]+){5}\s+3\s+[\d.]+\s+" + load
    assert len(re.findall(row, done.stdout, re.M)) == 2, done.stdout
    zero = r"^\s+1(\s+[\d.]+){3}\s+3\s+[\d.]+\s+" + load
    assert len(re.findall(zero, done.stdout, re.M)) == 2, done.stdout
    assert re.search(r"x ideal [\d.]+ \([\d.]+-[\d.]+\)\s+cpu ms/call", done.stdout), done.stdout
    assert re.search(r"MB per waiting run$", done.stdout, re.M), done.stdout
    assert re.search(r"^threads idle \d+, 2 waiting \d+$", done.stdout, re.M), done.stdout


def test_throughput_peers_on_asyncio():
    done = run_script(
        "benchmarks/throughput.py", "--runs", "3", "--calls", "2", "--latency-ms", "50",
        "--skip", "latency,zero,memory",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^bare openai \(asyncio\)\s+[\d.]+\s+[\d.]+\s+[\d.]+$", done.stdout, re.M)
    lines = ("LangGraph+AsyncSqliteSaver", "Agents SDK+SQLiteSession")
    for label in lines:
        if PEERS_INSTALLED:
            assert re.search(rf"^{re.escape(label)}\s+[\d.]+\s+[\d.]+\s+[\d.]+$", done.stdout, re.M)
        else:
            assert f"{label:<26} skipped, not installed" in done.stdout


def test_throughput_names_a_wrong_section_in_one_line():
    done = run_script("benchmarks/throughput.py", "--skip", "latency,warp")
    assert done.returncode == 2
    assert "--skip takes latency,zero,memory,peers (got ['warp'])" in done.stderr
    assert "Traceback" not in done.stderr


def test_chat_server_load_client(chat_server):
    done = run_script(
        "benchmarks/chat_server.py", "--load", chat_server, "--connections", "4",
        "--seconds", "0.3", "--latency-ms", "5", "--stream",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^\d+ requests in [\d.]+ s over 4 connections: \d+ requests/s", done.stdout)


def test_outcomes_prints_the_suite_figures():
    from tests.run.test_outcome_suite import FALSE_CLAIMS, REAL_SUCCESSES

    claims = sum("report" in c.name for c in FALSE_CLAIMS)
    successes = sum("report" in c.name for c in REAL_SUCCESSES)
    done = run_script("benchmarks/outcomes.py", "--only", "report", "--cases")
    assert done.returncode == 0, done.stdout + done.stderr
    cases = claims + successes
    assert f"outcome suite: {cases} cases, structural check only (no judge)" in done.stdout
    assert f"false claims ended unmet with the reason: {claims}/{claims}" in done.stdout
    assert f"real successes ended succeeded:           {successes}/{successes}" in done.stdout
    none = run_script("benchmarks/outcomes.py", "--only", "no such case")
    assert none.returncode == 2 and "--cases lists them" in none.stderr
    assert "Traceback" not in none.stderr


def test_monitors_benchmark_prints_the_suites_figures_and_the_cost_table():
    done = run_script("benchmarks/monitors.py", "--steps", "200", "--reps", "1")
    assert done.returncode == 0, done.stderr
    rows = {
        tuple(line.split()[2:4]) for line in done.stdout.splitlines() if line.startswith("issue")
    }
    from benchmarks.monitors import LEGITIMATE, STUCK

    caught = f"{len(STUCK)}/{len(STUCK)}"
    assert ("identical", caught) in rows and ("varied", caught) in rows, done.stdout
    no_trips = f"0/{len(LEGITIMATE)}"
    assert done.stdout.count(no_trips) >= 2 and "call 200" in done.stdout, done.stdout


def test_notify_benchmark_measures_both_receivers():
    done = run_script("benchmarks/notify.py", "--samples", "2")
    assert done.returncode == 0, done.stderr
    assert "2 approval requests" in done.stdout, done.stdout
    assert "SMTP (STARTTLS + login): p50" in done.stdout and "webhook (HTTP POST):" in done.stdout


def test_long_run_prints_the_per_step_table():
    done = run_script("benchmarks/long_run.py", "--steps", "60", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    assert "step 10" in done.stdout and "CPU" in done.stdout, done.stdout
    assert "load average" in done.stdout, done.stdout


def test_long_run_names_a_bad_option_in_one_line():
    done = run_script("benchmarks/long_run.py", "--steps", "5")
    assert done.returncode == 2 and "--steps must be at least 42" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_http_transport_benchmark_runs_both_transports():
    done = run_script("benchmarks/http_transport.py", "--concurrency", "1,3", "--repeat", "1")
    assert done.returncode == 0, done.stderr
    for transport in ("httpx", "aiohttp", "no SDK"):
        assert re.search(rf"3 at once, {transport} *: [0-9.]+ ms CPU per call", done.stdout)
    assert "load" in done.stdout and "Unclosed" not in done.stderr, done.stderr


def test_secret_walk_benchmark_prints_a_figure_per_size():
    done = run_script("benchmarks/secret_walk.py", "--files", "30", "60", "--per-folder", "7")
    assert done.returncode == 0, done.stderr
    assert "30 files, 7 a folder:" in done.stdout and "60 files, 7 a folder:" in done.stdout
    assert "ms CPU" in done.stdout and "load average" in done.stdout


def test_lease_beat_benchmark_measures_both_ways():
    done = run_script("benchmarks/lease_beat.py", "--runs", "5", "--rounds", "1")
    assert done.returncode == 0, done.stderr
    assert "5 leases one transaction each" in done.stdout and "in one beat" in done.stdout
    bad = run_script("benchmarks/lease_beat.py", "--runs", "0")
    assert bad.returncode == 2 and "must be >= 1" in bad.stderr


def test_profile_worker_runs_under_the_shipped_policy():
    done = run_script(
        "benchmarks/profile_worker.py", "--runs", "2", "--calls", "2", "--shipped-policy"
    )
    assert done.returncode == 0, done.stderr
    assert "ms per model call" in done.stdout and "SQL statements" in done.stdout
