"""Legitimate runs, part one: waiting, polling and retrying that ends well.

Each is written from a reported false trip of a loop detector, or from the waiting pattern a
report describes (the URL on its decorator). None may trip a monitor: polls that say the thing
is still on its way get poll_patience, a retry with a rising attempt count is waiting, and a
"try again later" is not a failure.
"""

from __future__ import annotations

from tests.support.drift_harness import (
    Builder,
    Scenario,
    Wording,
    call,
    cited,
    one_per_turn,
    sh,
    stamp,
)

WAITING: list[Builder] = []
legit = cited(WAITING)


# loop detection kills agents that are waiting on long-running processes
@legit("https://github.com/OpenHands/OpenHands/issues/5355")
def a_server_refuses_three_times_then_answers(w: Wording) -> Scenario:
    calls = [
        call(
            "http_get", f"ERR: connection refused (try {k + 1})", url="http://localhost:8000/health"
        )
        for k in range(3)
    ] + [call("http_get", '200 OK {"status": "ok"}', url="http://localhost:8000/health")]
    return Scenario(
        "a server refuses three times, then answers", one_per_turn(w, "Checking the server.", calls)
    )


# wait for the server to have started before going on
@legit("https://github.com/mozilla-services/buildhub/pull/344")
def sleep_and_curl_until_the_server_is_up(w: Wording) -> Scenario:
    refused = (
        "curl: (7) Failed to connect to localhost port 8888 after 0 ms: Couldn't connect to server"
    )
    calls = [
        sh(w.cmd(k, f"sleep {2**k} && curl -sf http://localhost:8888/v1/"), refused, code=7)
        for k in range(4)
    ]
    calls.append(
        sh(w.cmd(4, "sleep 16 && curl -sf http://localhost:8888/v1/"), '{"project_name": "kinto"}')
    )
    return Scenario(
        "sleep and curl until the server is up", one_per_turn(w, "Waiting for kinto.", calls)
    )


# use gh run watch / sleep while waiting for CI checks
@legit("https://github.com/meawoppl/agent-portal/pull/138")
def ci_running_five_times_then_passed(w: Wording) -> Scenario:
    running = "* main CI 777\nTriggered via push about {m} minutes ago\n\nJOBS\n* test (ID 12) in_progress"
    calls = [
        sh(w.cmd(k, f"sleep {30 * (k + 1)}; gh run view 777"), running.format(m=k))
        for k in range(5)
    ]
    calls.append(
        sh(w.cmd(5, "sleep 30; gh run view 777"), "✓ main CI 777\n\nJOBS\n✓ test in 4m2s (ID 12)")
    )
    return Scenario(
        "CI says running five times, then passed", one_per_turn(w, "Waiting for CI.", calls)
    )


# bounded polling of GitHub Actions builds
@legit("https://github.com/aosama/astronomical/issues/341")
def a_status_tool_in_progress_then_success(w: Wording) -> Scenario:
    calls = [
        call("ci_status", f"run 4711: in_progress (updated {stamp(k)})", run_id="4711")
        for k in range(7)
    ]
    calls.append(call("ci_status", "run 4711: completed, conclusion: success", run_id="4711"))
    return Scenario(
        "a status tool: in progress, then success", one_per_turn(w, "Polling the run.", calls)
    )


# "Waiting for pods to be ready... (1/2)" repeated while a rollout goes on
@legit("https://github.com/zlab-jp/kubernetes-resource/pull/8")
def a_rollout_that_takes_a_while(w: Wording) -> Scenario:
    said = (
        'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...'
    )
    calls = [
        sh(w.cmd(k, "kubectl rollout status deploy/web --timeout=20s"), said, code=1)
        for k in range(6)
    ]
    calls.append(
        sh(
            w.cmd(6, "kubectl rollout status deploy/web --timeout=20s"),
            'deployment "web" successfully rolled out',
        )
    )
    return Scenario("a rollout that takes a while", one_per_turn(w, "Watching the rollout.", calls))


# wait for the test server to start before the tests
@legit("https://github.com/getsentry/sentry-cocoa/pull/5551")
def a_container_health_check(w: Wording) -> Scenario:
    row = "CONTAINER ID IMAGE STATUS\n3f2a9c1b7d4e api:dev Up {s} seconds ({h})"
    calls = [
        sh(w.cmd(k, "docker ps --filter name=api"), row.format(s=5 * k, h="health: starting"))
        for k in range(4)
    ]
    calls.append(sh(w.cmd(4, "docker ps --filter name=api"), row.format(s=25, h="healthy")))
    return Scenario(
        "a container that becomes healthy", one_per_turn(w, "Checking the container.", calls)
    )


# poll /ready: 503 while starting, 200 once the service is ready
@legit("https://github.com/scylladb/scylla-monitoring/pull/2886")
def a_database_that_starts_slowly(w: Wording) -> Scenario:
    calls = [
        sh(w.cmd(k, "pg_isready -h localhost -p 5432"), "localhost:5432 - no response", code=2)
        for k in range(3)
    ]
    calls.append(
        sh(w.cmd(3, "pg_isready -h localhost -p 5432"), "localhost:5432 - accepting connections")
    )
    return Scenario("a database that starts slowly", one_per_turn(w, "Is the database up?", calls))


# honour 429 retryDelay in the tool loop
@legit("https://github.com/sinas-platform/sinas/issues/131")
def rate_limited_three_times_then_served(w: Wording) -> Scenario:
    limited = "ERR: 429 Too Many Requests: quota exceeded, retry after 12 seconds"
    calls = [call("http_get", limited, url="https://api.example.test/v1/reports") for _ in range(3)]
    calls.append(
        call(
            "http_get",
            '{"reports": [{"id": 1, "total": 120}]}',
            url="https://api.example.test/v1/reports",
        )
    )
    return Scenario(
        "rate limited three times, then served", one_per_turn(w, "Fetching the reports.", calls)
    )


# add retries to http probes to reduce false positives
@legit("https://github.com/jitsi/infra-provisioning/pull/1062")
def a_transient_503(w: Wording) -> Scenario:
    calls = [
        call("http_get", "ERR: 503 Service Unavailable", url="https://status.example.test/api")
        for _ in range(2)
    ]
    calls.append(
        call("http_get", '{"components": 12, "degraded": 0}', url="https://status.example.test/api")
    )
    return Scenario("a transient 503", one_per_turn(w, "Reading the status API.", calls))


# add retry to the server connection check
@legit("https://github.com/vitodeploy/vito/pull/727")
def an_install_that_times_out_twice(w: Wording) -> Scenario:
    timeout = "npm ERR! code ETIMEDOUT\nnpm ERR! network request to https://registry.npmjs.org/left-pad failed"
    calls = [sh(w.cmd(k, "npm install"), timeout, code=1) for k in range(2)]
    calls.append(sh(w.cmd(2, "npm install"), "added 312 packages in 14s"))
    return Scenario(
        "an install that times out twice", one_per_turn(w, "Installing dependencies.", calls)
    )


# a retrying connection: the attempt counter rises, then it connects
@legit("https://github.com/whanyu1212/greeks-in-the-loop/issues/47")
def a_database_connection_retried(w: Wording) -> Scenario:
    calls = [
        call(
            "connect_db",
            f"ERR: could not connect to server: Connection refused (attempt {k + 1} of 10)",
            dsn="postgres://db/app",
        )
        for k in range(5)
    ]
    calls.append(call("connect_db", "connected: PostgreSQL 16.3", dsn="postgres://db/app"))
    return Scenario(
        "a database connection retried", one_per_turn(w, "Connecting to the database.", calls)
    )


# long-running eval/CI monitor: patient polling with backoff
@legit("https://github.com/amd/gaia/issues/2222")
def a_long_job_with_progress(w: Wording) -> Scenario:
    calls = [
        call("ci_status", f"eval 31: running, {12 * k}% ({60 * k}/500 samples)", run_id="31")
        for k in range(9)
    ]
    calls.append(
        call("ci_status", "eval 31: completed, 500/500 samples, accuracy 0.81", run_id="31")
    )
    return Scenario("a long job reporting progress", one_per_turn(w, "Checking the eval.", calls))


# continuing a long-running command shouldn't trigger "stuck in loop"
@legit("https://github.com/OpenHands/OpenHands/issues/10350")
def tailing_a_build_that_moves_on(w: Wording) -> Scenario:
    calls = [
        sh(
            w.cmd(k, "sleep 20 && tail -n 3 build.log"),
            f"[{stamp(k)}] Compiling module {k} of 8\n[{stamp(k)}] ok",
        )
        for k in range(8)
    ]
    calls.append(sh(w.cmd(8, "tail -n 3 build.log"), "BUILD SUCCESSFUL in 3m 12s"))
    return Scenario("tailing a build that moves on", one_per_turn(w, "Following the build.", calls))


# polling alternated with a sleep; the output differs every poll
@legit("https://github.com/macanderson/stella/issues/359")
def sleep_then_read_output(w: Wording) -> Scenario:
    calls = []
    for k in range(6):
        calls.append(sh(w.cmd(k, "sleep 5")))
        calls.append(
            sh(w.cmd(k, "cat out/progress.txt"), f"epoch {k + 1}/6 loss {0.9 - 0.1 * k:.2f}")
        )
    return Scenario("sleep, then read the output", one_per_turn(w, "Waiting for training.", calls))


# a better mechanism for waiting: the log stays quiet for a while, then moves on
@legit("https://github.com/OpenHands/OpenHands/issues/7723")
def a_quiet_log_then_news(w: Wording) -> Scenario:
    quiet = f"[{stamp(1)}] migrating table orders (this can take a while)"
    calls = [
        sh(w.cmd(k, f"sleep {10 * (k + 1)} && tail -n 1 migrate.log"), quiet) for k in range(3)
    ]
    calls.append(
        sh(
            w.cmd(3, "sleep 40 && tail -n 1 migrate.log"),
            f"[{stamp(9)}] migration finished: 3 tables",
        )
    )
    return Scenario("a quiet log, then news", one_per_turn(w, "Waiting for the migration.", calls))


# deploy and watch: queued, in progress, success, then a smoke test
@legit("https://github.com/kevmoo/kevmoo_skills/pull/49")
def a_deploy_watched_to_the_end(w: Wording) -> Scenario:
    states = ["queued"] * 2 + ["in_progress"] * 4 + ["completed success"]
    calls = [
        sh(w.cmd(0, "gh workflow run deploy.yml"), "Created workflow_dispatch event for deploy.yml")
    ]
    calls += [
        sh(w.cmd(k, "sleep 15; gh run list -w deploy.yml -L 1"), f"{s}  deploy  main  {k}m")
        for k, s in enumerate(states)
    ]
    calls.append(
        call("http_get", '200 OK {"version": "2.4.1"}', url="https://app.example.test/health")
    )
    return Scenario(
        "a deploy watched to the end", one_per_turn(w, "Deploying and watching.", calls)
    )


# a test that fails once for an unrelated reason, then passes
@legit("https://github.com/skwallace36/Pepper/issues/205")
def a_flaky_test(w: Wording) -> Scenario:
    calls = [
        sh(
            w.cmd(0, "pytest -q tests/test_net.py"),
            "FAILED tests/test_net.py::test_fetch - TimeoutError",
            code=1,
        ),
        sh(w.cmd(1, "pytest -q tests/test_net.py"), "3 passed in 0.9s"),
    ]
    return Scenario("a flaky test, run again", one_per_turn(w, "Running the network tests.", calls))
