"""Stuck runs, part two: cycles, undo and redo, pages past the end, polls that never move on.

Each is written from a failure reported against an agent project (the URL on its decorator).
`detectable` counts tool calls: cycles of period 2-3 are seen after three rounds, of period 4-8
after two (alternating_window 6); a file back at earlier contents is no progress; polls still
waiting get poll_patience (10) polls after the first; no_progress is 8 calls with nothing new.
In the identical wording three turns saying the same with nothing new (repeat_same_message)
often show it first: a pair gives (identical wording, varied wording).
"""

from __future__ import annotations

from tests.support.drift_harness import (
    Builder,
    Call,
    Scenario,
    Turn,
    Wording,
    call,
    cited,
    one_per_turn,
    read,
    sh,
    stamp,
    write,
)

CYCLES: list[Builder] = []
stuck = cited(CYCLES)

SLUG_V1 = "def slug(s):\n    return s.lower().replace(' ', '-')\n"
SLUG_V2 = "def slug(s):\n    return '-'.join(s.lower().split())\n"
SLUG_FAIL = (
    "F [100%]\nFAILED tests/test_slug.py::test_slug_keeps_dashes - AssertionError: "
    "assert 'a-b' == 'a--b'\n1 failed in 0.{i}4s"
)


# made the change, reverted it, made it again (and re-ran the same failing test)
@stuck("https://github.com/google-gemini/gemini-cli/issues/1484")
def edit_back_and_forth(w: Wording) -> Scenario:
    calls: list[Call] = []
    for k in range(6):
        calls.append(write("src/slug.py", w.content(k, SLUG_V1 if k % 2 == 0 else SLUG_V2)))
        calls.append(sh(w.cmd(k, "pytest -q tests/test_slug.py"), SLUG_FAIL.format(i=k), code=1))
    turns = one_per_turn(w, "Let me adjust slug() and rerun the test.", calls)
    return Scenario("editing back and forth, the same test failing", turns, (6, 8))


# reads the same files over and over
@stuck("https://github.com/cline/cline/issues/3493")
def cycling_through_four_files(w: Wording) -> Scenario:
    names = ["src/a.py", "src/b.py", "src/c.py", "src/d.py"]
    files = {n: f"# {n}\nVALUE = {i}\n" for i, n in enumerate(names)}
    calls = [read(w.pick(k, names[k % 4], f"./{names[k % 4]}")) for k in range(16)]
    turns = one_per_turn(w, "Reading the modules again to understand the flow.", calls)
    return Scenario("cycling through four files", turns, (7, 8), files=files)


# three greps cycling A-B-C without deviation, after healthy exploration
@stuck("https://github.com/jwbron/egg/issues/3598")
def three_greps_in_a_cycle(w: Wording) -> Scenario:
    greps = [
        (
            "orchestrator/routes/pipelines/_run_pipeline.py",
            "41: tracker = create_peer_consensus_tracker(cfg)",
        ),
        ("orchestrator/concurrent_executor.py", "88:    return get_peer_consensus_tracker(run_id)"),
        (
            "orchestrator/routes/pipelines/_run_concurrent.py",
            "17: from .trackers import create_peer_consensus_tracker",
        ),
    ]
    calls = [
        sh(w.cmd(k, f'grep -n "create_peer_consensus_tracker" {greps[k % 3][0]}'), greps[k % 3][1])
        for k in range(15)
    ]
    turns = one_per_turn(w, "Checking where the tracker is created.", calls)
    return Scenario("three greps in a cycle", turns, (6, 9))


# ls and ls -la of the same folder, alternating, identical output each time
@stuck("https://github.com/earendil-works/pi/issues/6158")
def listing_a_folder_two_ways(w: Wording) -> Scenario:
    short = "custom.css\ncustom.js"
    long = (
        f"total 8\n-rw-r--r-- 1 dev dev 120 Nov 29 10:{0:02d} custom.css\n"
        "-rw-r--r-- 1 dev dev 64 Nov 29 10:01 custom.js"
    )
    calls = [
        sh(
            w.cmd(
                k,
                "ls /home/dev/.jupyter/custom/"
                if k % 2 == 0
                else "ls -la /home/dev/.jupyter/custom/",
            ),
            short if k % 2 == 0 else long,
        )
        for k in range(12)
    ]
    turns = one_per_turn(w, "Checking the custom folder before writing.", calls)
    return Scenario("listing a folder two ways, alternating", turns, (5, 6))


# the repetition is not always obvious: a long loop over many files
@stuck("https://github.com/OpenHands/OpenHands/issues/8269")
def cycling_through_eight_files(w: Wording) -> Scenario:
    names = [f"pkg/module_{i}.py" for i in range(8)]
    files = {n: f"# {n}\ndef f{i}():\n    return {i}\n" for i, n in enumerate(names)}
    calls = [read(names[k % 8]) for k in range(24)]
    turns = one_per_turn(w, "Going through the package once more.", calls)
    return Scenario("cycling through eight files", turns, (11, 16), files=files)


# keeps "fixing" the same errors: a fix, its revert, a fix...
@stuck("https://github.com/stackblitz/bolt.new/issues/1144")
def a_fix_and_its_revert(w: Wording) -> Scenario:
    a = "export const load = async () => { return fetch('/api') }\n"
    b = "export const load = async ({ fetch }) => { return fetch('/api') }\n"
    errors = [
        "src/routes/+page.ts:1:31 Error: fetch is not defined in this context",
        "src/routes/+page.ts:1:22 Error: Cannot destructure property 'fetch' of undefined",
    ]
    calls: list[Call] = []
    for k in range(6):
        calls.append(write("src/routes/+page.ts", w.content(k, a if k % 2 else b)))
        calls.append(sh(w.cmd(k, "npm run build"), errors[k % 2], code=1))
    turns = one_per_turn(w, "Fixing the build error.", calls)
    return Scenario("a fix and its revert, in turn", turns, (7, 8))


# a stuck loop of deleting and restoring .env
@stuck("https://github.com/google-gemini/gemini-cli/issues/18624")
def delete_then_recreate(w: Wording) -> Scenario:
    settings = '{\n  "port": 8080,\n  "debug": false\n}\n'
    calls: list[Call] = []
    for k in range(6):
        calls.append(write("config/settings.json", w.content(k, settings)))
        calls.append(Call("delete_files", {"paths": ["config/settings.json"]}))
    turns = one_per_turn(w, "Resetting the settings file.", calls)
    return Scenario("delete then recreate", turns, (5, 6))


# the agent outputs a new plan each turn instead of executing it
@stuck("https://github.com/Traves-Theberge/Orchestra/issues/108")
def rewriting_the_plan_every_turn(w: Wording) -> Scenario:
    steps = ["Read the failing test", "Find the parser", "Fix the date format", "Run the tests"]
    calls = []
    for k in range(14):
        order = steps[k % 4 :] + steps[: k % 4] if w.varied else steps
        plan = "# Plan\n" + "\n".join(
            f"- [ ] {w.pick(k, s, s.lower(), s + ' first')}" for s in order
        )
        calls.append(write("PLAN.md", plan))
    turns = one_per_turn(w, "Updating the plan before I start.", calls)
    # identical: the same plan four times (repeat_same_call); varied: a new plan each time, but
    # rewritten twice already with nothing learnt: then eight calls with nothing new
    return Scenario("rewriting the plan every turn", turns, (4, 10))


# a message printed in a tight loop, only the timestamp changes; any output counted as progress
@stuck("https://github.com/openSUSE/open-build-service/issues/7754")
def output_that_grows_without_news(w: Wording) -> Scenario:
    line = (
        'Mojo::Reactor::Poll: I/O watcher failed: Can\'t use string ("ioloop") as a '
        "subroutine ref at /usr/lib/perl5/vendor_perl/5.28.1/Mojo/Promise.pm line 71."
    )
    calls = [
        sh(
            w.cmd(k, w.pick(k, "cat build.log", "tail -n 400 build.log")),
            "\n".join(f"[{stamp(j)}] {line}" for j in range(3 * (k + 1))),
        )
        for k in range(12)
    ]
    turns = one_per_turn(w, "Checking the build log.", calls)
    return Scenario("output that grows with nothing new", turns, (4, 9))


# 895 reads of a 50-line transcript past its end
@stuck("https://github.com/typeclaw/typeclaw/pull/566")
def paging_past_the_end(w: Wording) -> Scenario:
    pages = [f"{n}: line {n} of handlers.py" for n in range(420)]
    calls = [
        call(
            "read_lines",
            "\n".join(pages[k * 100 : k * 100 + 100]),
            path="handlers.py",
            offset=k * 100,
            limit=100,
        )
        for k in range(14)
    ]
    turns = one_per_turn(w, "Reading the next page of handlers.py.", calls)
    return Scenario("paging past the end of a file", turns, 13, starts=6)


# the read tool kept re-reading; sed -n ranges are the workaround, here past the end
@stuck("https://github.com/QwenLM/qwen-code/issues/2201")
def sed_ranges_past_the_end(w: Wording) -> Scenario:
    body = "\n".join(f"line {n}" for n in range(200))
    calls = [sh(w.cmd(0, "sed -n '1,200p' big.py"), body)]
    calls += [sh(w.cmd(k, f"sed -n '{200 + 100 * k},{300 + 100 * k}p' big.py")) for k in range(12)]
    turns = one_per_turn(w, "Reading further down big.py.", calls)
    return Scenario("sed ranges past the end", turns, 9, starts=2)


# sleep-polling CI long after the work was done
@stuck("https://github.com/watt-mind/factory/pull/6")
def polling_a_dead_job_with_varying_sleep(w: Wording) -> Scenario:
    dead = (
        "X main CI 4242\nTriggered via push about {m} minutes ago\n\nJOBS\n"
        "X test in 2m13s (ID 99)\n\nANNOTATIONS\nX Process completed with exit code 1."
    )
    calls = [
        sh(w.cmd(k, f"sleep {5 * (k + 1)}; gh run view 4242"), dead.format(m=k + 3))
        for k in range(10)
    ]
    turns = one_per_turn(w, "Waiting for CI, then checking it.", calls)
    return Scenario("polling a dead job with a varying sleep", turns, 4)


# waited for pods that can never start (ImagePullBackOff)
@stuck("https://github.com/zlab-jp/kubernetes-resource/pull/8")
def polling_a_pod_that_cannot_start(w: Wording) -> Scenario:
    said = "NAME READY STATUS RESTARTS AGE\nweb-7d9f4 0/1 ImagePullBackOff 0 {m}m"
    calls = [
        sh(w.cmd(k, f"sleep {10 + k}; kubectl get pods -l app=web"), said.format(m=k + 2))
        for k in range(10)
    ]
    turns = one_per_turn(w, "Checking whether the pod is up.", calls)
    return Scenario("polling a pod that cannot start", turns, 4)


# ~80 consecutive no-op turns waiting on a run
@stuck("https://github.com/modelcontextprotocol/inspector/pull/2272")
def polling_a_hung_job(w: Wording) -> Scenario:
    calls = [
        call("ci_status", f"run 777: in_progress (started {stamp(k)})", run_id="777")
        for k in range(14)
    ]
    turns = one_per_turn(w, "Checking the CI run.", calls)
    return Scenario("polling a job that hangs", turns, 11)


# an infinite waiting loop when the server never starts
@stuck("https://github.com/criblio/appscope/pull/639")
def waiting_for_a_server_that_never_starts(w: Wording) -> Scenario:
    refused = (
        "curl: (7) Failed to connect to localhost port 8443 after 0 ms: Couldn't connect to server"
    )
    calls = [
        sh(
            w.cmd(k, f"sleep {2 + k % 3} && curl -sf https://localhost:8443/health"),
            refused,
            code=7,
        )
        for k in range(14)
    ]
    turns = one_per_turn(w, "Waiting for the server to come up.", calls)
    return Scenario("waiting for a server that never starts", turns, 11)


# a bare sleep as a polling strategy; no guard sees it
@stuck("https://github.com/macanderson/stella/issues/2022")
def sleeping_without_checking(w: Wording) -> Scenario:
    calls = [sh(w.cmd(k, "sleep 30")) for k in range(14)]
    turns = one_per_turn(w, "Waiting a bit longer for the build.", calls)
    return Scenario("sleeping without ever checking", turns, 10)


# 429s retried with no backoff: a transient rate limit becomes a self-sustaining storm
@stuck("https://github.com/block/buzz/issues/5557")
def a_rate_limit_storm(w: Wording) -> Scenario:
    calls = [
        call(
            "http_get",
            f"ERR: 429 Too Many Requests: rate limit exceeded, retry after 2s (attempt {k + 1})",
            url="https://relay.example/v1/messages",
        )
        for k in range(14)
    ]
    turns = one_per_turn(w, "Sending the batch again.", calls)
    return Scenario("a rate-limit storm", turns, 11)


# a period-3 loop: read the spec, write the same code, the same test failure
@stuck("https://github.com/macanderson/stella/issues/359")
def read_write_test_cycle(w: Wording) -> Scenario:
    files = {"SPEC.md": "slug() keeps runs of dashes\n"}
    calls: list[Call] = []
    for k in range(5):
        calls.append(read("SPEC.md"))
        calls.append(write("src/slug.py", w.content(k, SLUG_V1)))
        calls.append(sh(w.cmd(k, "pytest -q tests/test_slug.py"), SLUG_FAIL.format(i=k), code=1))
    turns = tuple(
        Turn(w.say(k, "Re-reading the spec, fixing, testing."), tuple(calls[3 * k : 3 * k + 3]))
        for k in range(5)
    )
    return Scenario("read, write the same code, the same failure", turns, 9, files=files)
