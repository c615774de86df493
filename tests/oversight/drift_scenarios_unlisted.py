"""Stuck and legitimate runs the first suites did not list: loops in disguise (a comment reworded
before each re-run of the same failing test, a query or URL the tool's answer repeats back, ids,
ports, download speeds and thread names that differ on every try, a block appended again and
again), and the legitimate work those disguises must not be confused with (one file documented
function by function, a log growing entry by entry, a page fetched per URL, folders listed one
by one).

Each is written from a report against an agent project (the URL on its decorator); `detectable`
counts tool calls as in drift_scenarios_repeats.py and drift_scenarios_cycles.py.
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
    sh,
    write,
)

UNLISTED_STUCK: list[Builder] = []
UNLISTED_WORK: list[Builder] = []
stuck = cited(UNLISTED_STUCK)
legit = cited(UNLISTED_WORK)

CALC = "def add(a, b):\n    return a - b\n"
ADD_FAILS = "F [100%]\nFAILED tests/test_calc.py::test_add - assert -1 == 5\n1 failed in 0.{i}2s"
NOTES = ("# why add subtracts", '"""Add a and b."""', "# TODO: check the sign", "# fixed?")


# pytest -> the same assertion fails -> a tiny patch -> pytest: the patch only rewords comments
@stuck("https://github.com/openJiuwen-ai/jiuwenswarm/issues/3560")
def cosmetic_edits_before_each_rerun(w: Wording) -> Scenario:
    calls: list[Call] = []
    for i in range(6):
        note = NOTES[i % len(NOTES)]
        calls.append(
            write("calc.py", w.content(i, f"def add(a, b):\n    {note}\n    return a - b\n"))
        )
        flags = w.pick(i, "-q", "-x", "-q tests/test_calc.py")
        calls.append(sh(w.cmd(i, f"pytest {flags}"), ADD_FAILS.format(i=i), code=1))
    turns = one_per_turn(w, "Patching add() and re-running the test.", calls)
    # the first write changes the code; the rewordings after it do not: 3 failures at call 6
    return Scenario("a comment reworded before each re-run", turns, 6, files={"calc.py": CALC})


# one search after another, each a new query, each answered "no results" naming the query
@stuck("https://github.com/Lexus2016/hermes-agent-evolution/issues/1012")
def new_queries_that_find_nothing(w: Wording) -> Scenario:
    queries = [
        "tenacity retry decorator",
        "retry with exponential backoff python",
        "urllib3 Retry adapter example",
        "requests session retries",
        "backoff library on_exception",
        "retry on 5xx httpx",
        "retrying package wait_fixed",
        "http client retry policy",
    ]
    calls = [
        call("web_search", f"No results found for '{q}'. Try different keywords.", query=q)
        for q in queries
    ]
    turns = one_per_turn(w, "Searching for a retry example.", calls)
    return Scenario("new queries that find nothing", turns, 4)


# navigating to URL variants of one bad address, each refused with the URL in the error
@stuck("https://github.com/Fosowl/agenticSeek/issues/146")
def a_missing_page_tried_at_url_variants(w: Wording) -> Scenario:
    base = "https://docs.example.com/api/v2/auth"
    urls = [base, f"{base}/", base.replace("https", "http"), f"{base}?lang=en", f"{base}.html"]
    calls = [call("http_get", f"ERR: HTTP 404 Not Found: {u}", url=u) for u in urls + urls]
    turns = one_per_turn(w, "Fetching the auth page.", calls)
    return Scenario("a missing page tried at URL variants", turns, 3)


# the same failure whose message carries a new request id each time
@stuck("https://github.com/traceroost/core/pull/215")
def the_same_error_with_new_request_ids(w: Wording) -> Scenario:
    ids = ["req_8Fk2LmQ9", "req_Zp4Qa1Xv", "req_7bB2QWm9", "req_Ka92jdL0", "req_0pQz8Yt1"]
    calls = [
        call(
            "http_get",
            f"ERR: 500 Internal Server Error: upstream failed (request id {r})",
            url="https://api.shop.example/v1/items",
        )
        for r in ids
    ]
    turns = one_per_turn(w, "Listing the items.", calls)
    return Scenario("the same error with new request ids", turns, 3)


# a server started afresh on each try, refused on a new local port each time
@stuck("https://github.com/traceroost/core/pull/215")
def connection_refused_on_new_ports(w: Wording) -> Scenario:
    calls = [
        sh(
            w.cmd(i, "python client.py"),
            'Traceback (most recent call last):\n  File "client.py", line 9, in <module>\n'
            f"ConnectionRefusedError: [Errno 111] Connection refused: ('127.0.0.1', {40113 + 977 * i})",
            code=1,
        )
        for i in range(5)
    ]
    turns = one_per_turn(w, "Running the client against the server.", calls)
    return Scenario("connection refused on a new port each time", turns, 3)


# reinstalling the same package: only the download speed differs from one try to the next
@stuck("https://github.com/muellerberndt/mini-agi/issues/47")
def a_reinstall_at_a_new_download_speed(w: Wording) -> Scenario:
    speeds = ["1.2 MB/s", "870.3 kB/s", "3.4 MB/s", "2.0 MB/s", "511 kB/s", "9.9 MB/s"]
    calls = [
        sh(
            w.cmd(
                i, w.pick(i, "pip install --force-reinstall requests", "pip install -I requests")
            ),
            "Collecting requests\n  Downloading requests-2.31.0-py3-none-any.whl (62 kB)\n"
            f"     ━━━━━━━━━━━━━━━━━━━━ 62.6/62.6 kB {speed} eta 0:00:00\n"
            "Installing collected packages: requests\nSuccessfully installed requests-2.31.0",
        )
        for i, speed in enumerate(speeds)
    ]
    turns = one_per_turn(w, "Reinstalling requests to fix the import.", calls)
    return Scenario("a reinstall at a new download speed", turns, 4)


# the same exception, raised in a thread the runtime numbers anew on every run
@stuck("https://github.com/traceroost/core/pull/215")
def the_same_exception_in_a_new_thread(w: Wording) -> Scenario:
    calls = [
        sh(
            w.cmd(i, "python worker.py"),
            f"Exception in thread Thread-{i + 3}:\nTraceback (most recent call last):\n"
            '  File "worker.py", line 8, in run\nValueError: bad config: queue_size',
            code=1,
        )
        for i in range(5)
    ]
    turns = one_per_turn(w, "Starting the worker again.", calls)
    return Scenario("the same exception in a new thread", turns, 3)


# the same span appended every round, nothing ever retiring it
@stuck("https://github.com/Digital-Process-Tools/claude-remember/issues/349")
def the_same_block_appended_again(w: Wording) -> Scenario:
    block = "## Open items\n- migrate the importer\n- fix the login bug\n"
    calls = [write("NOTES.md", w.content(i, "# Notes\n" + block * (i + 1))) for i in range(8)]
    turns = one_per_turn(w, "Recording the open items.", calls)
    # the first write is new; the next four only repeat its lines: repetition at call 5
    return Scenario("the same block appended again", turns, 5)


# write, test, read in a cycle of three, the arguments spelled anew each round (held before)
@stuck("https://github.com/openJiuwen-ai/jiuwenswarm/issues/3560")
def a_cycle_of_three_with_new_spellings(w: Wording) -> Scenario:
    versions = ("def f():\n    return 1\n", "def f():\n    return 2\n")
    fails = "FAILED tests/test_m.py::test_f - assert f() == 3\n1 failed in 0.{i}1s"
    calls: list[Call] = []
    for i in range(12):
        path = w.pick(i, "m.py", "./m.py", "src/../m.py")
        step = i % 3
        if step == 0:
            calls.append(write(path, w.content(i, versions[(i // 3) % 2])))
        elif step == 1:
            flags = w.pick(i, "-q", "-x", "-q tests/test_m.py", "--tb=line")
            calls.append(sh(w.cmd(i, f"pytest {flags}"), fails.format(i=i), code=1))
        else:
            calls.append(call("read_lines", versions[(i // 3) % 2], path=path))
    turns = one_per_turn(w, "Trying the other return value.", calls)
    # identical: three idle turns saying the same (same_message); varied: the two versions go
    # back and forth, so the failure comes back a third time since new code at call 11
    return Scenario(
        "a cycle of three with new spellings", turns, (7, 11), files={"m.py": versions[0]}
    )


# one file read again and again in overlapping windows (held before)
@stuck("https://github.com/NousResearch/hermes-agent/pull/16382")
def one_file_in_overlapping_windows(w: Wording) -> Scenario:
    windows = [0, 20, 10, 30, 0, 15, 25, 5, 20, 10, 0, 30]
    calls = [
        call(
            "read_lines",
            "\n".join(f"{n}: entry {n}" for n in range(o, o + 40)),
            path="big.py",
            offset=o,
            limit=w.pick(k, 40, 40.0),
        )  # fmt: skip
        for k, o in enumerate(windows)
    ]
    turns = one_per_turn(w, "Reading that part of the file again.", calls)
    # new lines until the window at 30 (call 4), then reads of lines already seen: identical,
    # three idle turns saying the same; varied, eight calls with nothing new
    return Scenario("one file in overlapping windows", turns, (11, 12))


# the author-then-iterate loop: one file documented function by function, tests after each
@legit("https://github.com/apmantza/pi-lens/issues/1364")
def one_file_documented_function_by_function(w: Wording) -> Scenario:
    def module(done: int) -> str:
        parts = []
        for n in range(8):
            doc = f'    """Step {n} of the pipeline."""\n' if n < done else ""
            parts.append(f"def step_{n}(x):\n{doc}    return x + {n}\n")
        return "\n\n".join(parts)

    calls: list[Call] = []
    for k in range(1, 9):
        calls.append(write("pipeline.py", w.content(k, module(k))))
        calls.append(sh(w.cmd(k, "pytest -q"), "8 passed in 0.41s"))
    turns = one_per_turn(w, "Documenting the next function.", calls)
    return Scenario(
        "one file documented function by function", turns, files={"pipeline.py": module(0)}
    )


# a daily log that grows by a new entry each round
@legit("https://github.com/majiayu000/vibeguard/issues/251")
def a_daily_log_growing_entry_by_entry(w: Wording) -> Scenario:
    entries = [f"- [x] task {n}: reviewed pull request #{40 + n}\n" for n in range(12)]
    calls = [
        write(
            "docs/daily/2026-05-19.md", w.content(k, "# 2026-05-19\n" + "".join(entries[: k + 1]))
        )
        for k in range(12)
    ]
    return Scenario(
        "a daily log growing entry by entry", one_per_turn(w, "Logging the next task.", calls)
    )


# twelve distinct fetches, each page naming its own address, each with real content
@legit("https://github.com/AtomicBot-ai/atomic-agent/issues/458")
def distinct_pages_that_name_their_address(w: Wording) -> Scenario:
    topics = ["solar", "wind", "hydro", "tidal", "geothermal", "biomass",
              "nuclear", "hydrogen", "batteries", "grids", "heat pumps", "storage"]  # fmt: skip
    calls = [
        call(
            "http_get",
            f"<title>{url}</title>\nCapacity of {t} grew {4 + k}% in 2025.",
            url=url,
        )
        for k, t in enumerate(topics)
        for url in [f"https://energy.example/reports/{t.replace(' ', '-')}"]
    ]
    return Scenario(
        "distinct pages that name their address", one_per_turn(w, "Reading the next report.", calls)
    )


# folders with the same file names, listed one after another in a batch operation
@legit("https://github.com/google-gemini/gemini-cli/pull/20701")
def folders_with_the_same_names_listed_in_turn(w: Wording) -> Scenario:
    calls = [
        sh(
            w.cmd(k, f"ls services/svc{k}"),
            f"services/svc{k}/__init__.py\nservices/svc{k}/handler.py\nservices/svc{k}/test_handler.py",
        )
        for k in range(12)
    ]
    return Scenario(
        "folders with the same file names listed in turn",
        one_per_turn(w, "Listing the next service.", calls),
    )
