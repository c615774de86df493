"""Stuck runs, part one: the same outcome again and the same failure in new clothes.

Each is written from a failure reported against an agent project (the URL above it). `detectable`
is the tool call at which the default thresholds can see it (repeat_same_call 4 outcomes in a
row, repeat_same_error 3 since files last changed, no_progress 8 calls with nothing new);
a pair is (identical wording, varied wording) where the wordings reach it by different checks.
"""

from __future__ import annotations

from tests.support.drift_harness import (
    Builder,
    Call,
    Scenario,
    Wording,
    call,
    cited,
    one_per_turn,
    read,
    sh,
    stamp,
)

REPEATS: list[Builder] = []
stuck = cited(REPEATS)


FAILING = (
    "FAILED tests/test_dates.py::test_parse_iso - AssertionError: assert None == "
    "datetime(2024, 1, 2)"
)
PANDAS = (
    "Requirement already satisfied: pandas in /usr/lib/python3/dist-packages (2.1.4)\n"
    "Requirement already satisfied: numpy>=1.22.4 in /usr/lib/python3/dist-packages (1.26.4)"
)


# ReadFile of the same file, again
@stuck("https://github.com/google-gemini/gemini-cli/issues/8259")
def same_file_read_again(w: Wording) -> Scenario:
    files = {
        "src/office-details.component.html": "<div class='office'>\n  {{ office.name }}\n</div>\n"
    }
    path = "src/office-details.component.html"
    calls = [read(w.pick(i, path, f"./{path}")) for i in range(10)]
    turns = one_per_turn(w, "Let me read the component again.", calls)
    return Scenario("the same file read again and again", turns, 4, files=files)


# ls, then ls -la, with identical output
@stuck("https://github.com/earendil-works/pi/issues/6158")
def new_calls_with_a_result_already_seen(w: Wording) -> Scenario:
    text = "def parse(s):\n    return s.split(',')\n"
    commands = [
        "cat src/parse.py",
        "head -n 400 src/parse.py",
        "sed -n '1,400p' src/parse.py",
        "less -F src/parse.py",
        "awk 1 src/parse.py",
        "cat -- src/parse.py",
    ]
    calls = [sh(w.cmd(i, commands[i % 6]), text) for i in range(10)]
    turns = one_per_turn(w, "Let me look at the parser once more.", calls)
    return Scenario("new calls returning a result already seen", turns, 4)


# the same query reformulated
@stuck("https://github.com/Lexus2016/hermes-agent-evolution/issues/1206")
def one_question_asked_ten_ways(w: Wording) -> Scenario:
    asks = [
        "configure retries in httpx",
        "httpx retry configuration",
        "how do I retry in httpx",
        "httpx transport retries option",
        "retry failed requests httpx client",
    ]
    hits = (
        "1. Transports - HTTPX docs: retries=3 on HTTPTransport\n"
        "2. Advanced usage - HTTPX: limits and timeouts\n3. Issue #1141: retry support"
    )
    calls = [call("search_docs", hits, query=w.pick(i, *asks)) for i in range(10)]
    turns = one_per_turn(w, "Searching the docs for how retries work.", calls)
    return Scenario("one question asked ten ways", turns, 4)


# near-identical pattern searches
@stuck("https://github.com/superplanehq/superplane/issues/4103")
def one_question_answered_in_another_order(w: Wording) -> Scenario:
    asks = [
        "incident deployment gate pagerduty",
        "pagerduty incident gate deploy",
        "deploy gate on active incidents",
        "incident check before deploy pagerduty",
    ]
    hits = [
        "pattern: pagerduty-gate (12 stars)",
        "pattern: statuspage-check (4 stars)",
        "pattern: manual-approval (30 stars)",
    ]
    calls = [
        call("search_docs", "\n".join(hits[i % 3 :] + hits[: i % 3]), query=w.pick(i, *asks))
        for i in range(12)
    ]
    turns = one_per_turn(w, "Searching for a matching pattern.", calls)
    # identical wording: three idle turns saying the same (same_message); varied: no_progress
    return Scenario("one question, the same answers in another order", turns, (4, 9))


# 12 identical searches, all with 0 results
@stuck("https://github.com/jsboige/CoursIA/pull/1237")
def a_search_that_finds_nothing(w: Wording) -> Scenario:
    calls = [call("search_docs", "0 results", query="gale_shapley man optimal") for _ in range(8)]
    turns = one_per_turn(w, "Searching mathlib for the lemma.", calls)
    return Scenario("the same search finding nothing", turns, 4)


# searches with an empty query, 0 URLs each
@stuck("https://github.com/warpdotdev/warp/issues/8760")
def empty_searches(w: Wording) -> Scenario:
    calls = [call("web_search", "Searched the web: 0 URLs", query="") for _ in range(8)]
    turns = one_per_turn(w, "Searching the web.", calls)
    return Scenario("empty searches", turns, 4)


# JS-rendered sites: every URL returns the same shell
@stuck("https://github.com/AVADSA25/codec/pull/230")
def every_page_is_the_same_shell(w: Wording) -> Scenario:
    shell_html = "<html><body><nav>Home | Launches | Login</nav><div id='root'></div></body></html>"
    urls = [f"https://www.producthunt.example/posts/startup-{i}" for i in range(10)]
    calls = [call("http_get", shell_html, url=u) for u in urls]
    turns = one_per_turn(w, "Fetching the next launch page.", calls)
    return Scenario("different pages, the same empty shell", turns, 4)


# installing the same package over and over
@stuck("https://github.com/muellerberndt/mini-agi/issues/47")
def installing_the_same_package(w: Wording) -> Scenario:
    commands = ["pip install pandas", "python -m pip install pandas", "pip3 install pandas"]
    calls = [sh(w.cmd(i, w.pick(i, *commands)), PANDAS) for i in range(8)]
    turns = one_per_turn(w, "Installing pandas first.", calls)
    return Scenario("installing the same package again", turns, 4)


# edit after edit: "file not modified"
@stuck("https://github.com/SWE-agent/SWE-agent/issues/1083")
def edits_that_change_nothing(w: Wording) -> Scenario:
    said = "No changes made: internal/config.go is already as requested (file not modified)"
    old = 'Idletime int `yaml:"idletime,omitempty"`'
    new = 'Idletime DurationMs `yaml:"idletime,omitempty"`'
    calls = [
        call("edit_file", said, path="internal/config.go", old_text=old, new_text=w.content(i, new))
        for i in range(8)
    ]
    turns = one_per_turn(w, "Let's update the Idletime field to use DurationMs.", calls)
    return Scenario("edits that change nothing", turns, 4)


# "I will check the log", the same log
@stuck("https://github.com/google-gemini/gemini-cli/issues/7525")
def the_old_log_again(w: Wording) -> Scenario:
    files = {"test_run.log": "collected 12 items\n\ntests/test_api.py ....F\n1 failed, 11 passed\n"}
    calls = [read("test_run.log") for _ in range(8)]
    turns = one_per_turn(w, "I am still seeing the old log file. I will read it again.", calls)
    return Scenario("reading the old log again", turns, 4, files=files)


# clicking the search button, nothing happens
@stuck("https://github.com/alibaba/page-agent/issues/112")
def clicking_what_does_nothing(w: Wording) -> Scenario:
    page = "bilibili search page: input box is empty; no results shown; button 12: Search"
    calls = [call("click", page, index=12) for _ in range(8)]
    turns = one_per_turn(w, "Clicking the search button.", calls)
    return Scenario("clicking what does nothing", turns, 4)


# the same error on every attempt
@stuck("https://github.com/stackblitz/bolt.new/issues/4507")
def failing_test_with_new_flags(w: Wording) -> Scenario:
    flags = ["-q", "-x", "-vv", "--tb=short", "-p no:randomly", "--lf", "-q -k parse_iso"]
    outputs = {
        "-vv": f"tests/test_dates.py::test_parse_iso FAILED [100%]\n{FAILING}\n1 failed in 0.31s",
        "--tb=short": f"tests/test_dates.py:14: in test_parse_iso\nE   AssertionError\n{FAILING}",
    }
    calls = []
    for i, flag in enumerate(flags):
        said = outputs.get(flag, f"F [100%]\n{FAILING}\n1 failed in 0.{i}8s")
        calls.append(sh(w.cmd(i, f"pytest {flag} tests/test_dates.py"), said, code=1))
    turns = one_per_turn(w, "Running the date tests again.", calls)
    return Scenario("a failing test re-run with new flags", turns, 3)


# Unknown command, again and again
@stuck("https://github.com/Significant-Gravitas/AutoGPT/issues/2957")
def unknown_tool_under_new_names(w: Wording) -> Scenario:
    names = ["execute_command", "run_command", "bash", "shell_exec", "terminal", "exec"]
    calls = [Call(names[i], {"command": "pip install pandas"}) for i in range(6)]
    turns = one_per_turn(w, "I will install pandas with a command.", calls)
    return Scenario("an unknown tool under new names", turns, 3)


# "moves away and comes back"
@stuck("https://github.com/Significant-Gravitas/AutoGPT/issues/920")
def an_error_that_comes_back(w: Wording) -> Scenario:
    refused = f"ERR: 401 Unauthorized: token expired at {stamp(3)}"
    steps = [
        call("http_get", refused, url="https://api.shop.example/v2/orders"),
        call(
            "search_docs", "Auth: tokens last 1 hour; refresh with POST /oauth/token", query="token"
        ),
        call(
            "http_get",
            refused.replace(stamp(3), stamp(9)),
            url="https://api.shop.example/v2/orders?x=1",
        ),
        call("read_lines", "OAUTH_CLIENT_ID is read from the environment", path="docs/auth.md"),
        call(
            "http_get",
            refused.replace(stamp(3), stamp(14)),
            url="https://api.shop.example/v2/orders",
        ),
        call("search_docs", "Orders API: GET /v2/orders lists orders", query="orders api"),
        call("http_get", refused, url="https://api.shop.example/v2/orders"),
    ]
    turns = one_per_turn(w, "Trying the orders API.", steps)
    return Scenario("an error that comes back, not back to back", turns, 5)


# the same edit again: old_string not found
@stuck("https://github.com/QwenLM/qwen-code/issues/5932")
def the_same_edit_that_cannot_apply(w: Wording) -> Scenario:
    said = "ERR: Failed to edit, 0 occurrences found for old_text in src/Finder.tsx. No edits made."
    calls = [
        call(
            "edit_file",
            said,
            path="src/Finder.tsx",
            old_text=w.content(i, "useState(0)"),
            new_text="useState(1)",
        )
        for i in range(6)
    ]
    turns = one_per_turn(w, "Applying the fix to Finder.tsx.", calls)
    return Scenario("the same edit that cannot apply", turns, 3)


# modified since last read, 295 times
@stuck("https://github.com/AltimateAI/altimate-code/issues/450")
def a_stale_read_edit_loop(w: Wording) -> Scenario:
    def said(i: int) -> str:
        return (
            f"ERR: File src/app.ts has been modified since it was last read.\n"
            f"Last modification: {stamp(2 * i + 1)}\nLast read: {stamp(2 * i)}\n"
            "Please read the file again before modifying it."
        )

    calls = [
        call("edit_file", said(i), path="src/app.ts", old_text="port = 80", new_text="port = 8080")
        for i in range(6)
    ]
    turns = one_per_turn(w, "Editing the port.", calls)
    return Scenario("a stale-read edit loop", turns, 3)


# creating the same folder: already exists
@stuck("https://github.com/muellerberndt/mini-agi/issues/47")
def making_a_folder_that_exists(w: Wording) -> Scenario:
    said = "mkdir: cannot create directory 'data': File exists"
    calls = [sh(w.cmd(i, "mkdir data"), said, code=1) for i in range(6)]
    turns = one_per_turn(w, "Creating the data folder.", calls)
    return Scenario("making a folder that exists", turns, 3)


# cloning the same repository again
@stuck("https://github.com/Significant-Gravitas/AutoGPT/issues/3644")
def cloning_again(w: Wording) -> Scenario:
    said = "fatal: destination path 'Auto-GPT' already exists and is not an empty directory."
    url = "https://github.com/Significant-Gravitas/Auto-GPT"
    calls = [sh(w.cmd(i, f"git clone {url}"), said, code=128) for i in range(6)]
    turns = one_per_turn(w, "Cloning Auto-GPT so I can update it.", calls)
    return Scenario("cloning the same repository again", turns, 3)
