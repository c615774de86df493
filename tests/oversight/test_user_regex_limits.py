"""A person's regex that backtracks forever on text a hostile model (or tool) made for it does not
freeze the worker: the policy's `re:` patterns (arguments, paths, commands) and the sandbox's
secret patterns stop after a time limit, on the safe side (the call is denied, the text is
withheld), and the process's other threads (the other runs, the halt watcher) run meanwhile.

Each case runs in a child process: before the limit, a search like these held the GIL for good
and would have frozen the test run itself."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Exponential on "aaaa...a!" in Python's `re` (it never returned); the `regex` engine the policy
# uses now answers these at once, and stops the ones it cannot (SLOW) at the time limit.
CATASTROPHIC = r"^(a+)+$"
POLYNOMIAL = r"\s*.*\s*.*\s*.*\s*.*rm\b.*-rf"  # a person's "any rm -rf": quartic in `re`
SLOW = r"(a|aa)+$"  # exponential in both engines
HOSTILE = "a" * 60 + "!"
LONG_LINE = " " * 3000 + "x"
TEXT_FOR = {CATASTROPHIC: HOSTILE, POLYNOMIAL: LONG_LINE, SLOW: HOSTILE}

DECIDE = """
import json, sys
from agent_core.oversight.policy import Policy, Rule, decide
rule = Rule(**json.loads(sys.argv[1]))
call = json.loads(sys.argv[2])
verdict = decide(Policy(rules=[rule]), tool=call["tool"], risk="medium",
                 arguments=call["arguments"], autonomy="supervised")
print(json.dumps({"verdict": verdict.verdict, "reason": verdict.reason}))
"""


def _child(code: str, *args: str) -> dict:
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the search never ended: the process froze on the pattern")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("pattern", [CATASTROPHIC, POLYNOMIAL, SLOW])
@pytest.mark.parametrize(
    ("rule", "call"),
    [
        (
            {"tool": "run_shell", "args": {"command": "re:{p}"}, "action": "deny"},
            {"tool": "run_shell", "arguments": {"command": "{t}"}},
        ),
        (
            {"tool": "run_shell", "args": {"command": "re:{p}"}, "action": "ask"},
            {"tool": "run_shell", "arguments": {"command": "{t}"}},
        ),
        (
            {"tool": "run_shell", "args": {"command": "re:{p}"}, "action": "allow"},
            {"tool": "run_shell", "arguments": {"command": "{t}"}},
        ),
        (
            {"commands": ["re:{p}"], "action": "deny"},
            {"tool": "run_shell", "arguments": {"command": "{t}"}},
        ),
        (
            {"paths": ["re:{p}"], "action": "deny"},
            {"tool": "write_file", "arguments": {"path": "{t}", "content": "x"}},
        ),
        (
            {"tool": "fetch_url", "args": {"url": "re:{p}"}, "action": "deny"},
            {"tool": "fetch_url", "arguments": {"url": "http://example.com/{t}"}},
        ),
    ],
    ids=["args-deny", "args-ask", "args-allow", "commands", "paths", "url"],
)
def test_a_pattern_that_backtracks_on_the_models_text_is_answered_in_time(pattern, rule, call):
    text = TEXT_FOR[pattern]

    def fill(value):
        if isinstance(value, str):
            return value.replace("{p}", pattern).replace("{t}", text)
        if isinstance(value, list):
            return [fill(v) for v in value]
        return {k: fill(v) for k, v in value.items()}

    decided = _child(DECIDE, json.dumps(fill(rule)), json.dumps(fill(call)))
    if pattern == SLOW:  # stopped at the limit: denied, whatever the rule's action
        assert decided["verdict"] == "deny", decided
        assert "took longer than" in decided["reason"], decided
    else:  # answered: the text does not match, so the rule does not apply
        assert "took longer" not in decided["reason"], decided
        assert decided["reason"].startswith(("matched", "rule")) is False, decided


def test_the_same_patterns_still_match_and_miss_ordinary_text():
    decided = _child(
        DECIDE,
        json.dumps(
            {"tool": "run_shell", "args": {"command": f"re:{POLYNOMIAL}"}, "action": "deny"}
        ),
        json.dumps({"tool": "run_shell", "arguments": {"command": "ls && rm -rf build"}}),
    )
    assert decided["verdict"] == "deny" and "took longer" not in decided["reason"], decided
    decided = _child(
        DECIDE,
        json.dumps(
            {"tool": "run_shell", "args": {"command": f"re:{CATASTROPHIC}"}, "action": "deny"}
        ),
        json.dumps({"tool": "run_shell", "arguments": {"command": "ls"}}),
    )
    assert decided["verdict"] != "deny", decided


REDACT = """
import json, sys
from agent_core.oversight.redact import Redactor
redact = Redactor({"TOKEN": "s3cr3t-value-1234"}, [sys.argv[1]])
print(json.dumps({"shown": redact(sys.argv[2])}))
"""


@pytest.mark.parametrize("pattern", [CATASTROPHIC, POLYNOMIAL, SLOW])
def test_a_secret_pattern_that_backtracks_is_answered_in_time(pattern):
    shown = _child(REDACT, pattern, TEXT_FOR[pattern] + " s3cr3t-value-1234")["shown"]
    assert "s3cr3t-value-1234" not in shown
    if pattern == SLOW:  # what the pattern would have hidden is unknown: all of it is withheld
        assert shown.startswith("[withheld:") and "took longer than" in shown, shown
    else:
        assert "withheld" not in shown and "[redacted TOKEN]" in shown, shown


def test_a_secret_pattern_still_redacts_what_it_matches():
    shown = _child(REDACT, r"corp-[0-9a-f]{8}", "key corp-deadbeef and s3cr3t-value-1234")["shown"]
    assert "corp-deadbeef" not in shown and "s3cr3t-value-1234" not in shown
    assert "withheld" not in shown


def test_other_threads_run_while_a_slow_search_is_stopped():
    progress = _child(
        """
        import json, threading
        from agent_core.oversight.policy import Policy, Rule, decide
        policy = Policy(rules=[Rule(tool="run_shell", args={"command": "re:(a|aa)+$"},
                                    action="deny")])
        started, done = threading.Event(), threading.Event()
        def search():
            started.set()
            decide(policy, tool="run_shell", risk="medium",
                   arguments={"command": "a" * 60 + "!"}, autonomy="supervised")
            done.set()
        threading.Thread(target=search, daemon=True).start()
        started.wait()
        turns = 0
        while not done.is_set():
            turns += 1
        print(json.dumps({"turns": turns}))
        """
    )
    assert progress["turns"] > 1000, progress


def test_onloop_policy_check_says_why_a_slow_pattern_denied(tmp_path):
    from tests.cli.test_commands import onloop

    rule = f'[[rules]]\ntool = "run_shell"\nargs = {{command = "re:{SLOW}"}}\naction = "deny"\n'
    (tmp_path / "slow.toml").write_text(rule)
    call = json.dumps({"command": HOSTILE})
    checked = onloop("policy", "check", "--policy", "slow.toml", "run_shell", call, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    lines = dict(line.split(":", 1) for line in checked.stdout.splitlines() if ":" in line)
    assert lines["verdict"].strip() == "deny"
    assert lines["rule"].strip() == "none (see the reason)"  # not "no rule matched ..."
    assert "took longer than" in lines["reason"]
