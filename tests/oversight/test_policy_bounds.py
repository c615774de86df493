"""Numbers a policy file (or the environment) gives that no run could live with are refused where
they are read, in one line naming the key and its range: infinity, 1e400 (TOML reads it as
infinity) and numbers past what the clock, the kernel's resource limits or the database hold.
Taken as they were, they failed later and elsewhere: every shell call of the run ("Exception
occurred in preexec_fn" from setrlimit), every model call ("internal error: OverflowError"), an
approval's deadline on PostgreSQL (an interval out of range), a notification's signed link."""

from __future__ import annotations

import pytest

from agent_core.oversight.policy_file import PolicyError, parse_policy
from tests.cli.test_commands import onloop

HUGE = "99999999999999999999999"  # past a 64-bit integer
OUT_OF_RANGE = [
    ("", "approval_timeout_s", "inf"),
    ("", "approval_timeout_s", "1e400"),
    ("", "approval_timeout_s", "1e23"),
    ("[model]", "request_timeout_s", "inf"),
    ("[model]", "request_timeout_s", "1e30"),
    ("[model]", "max_output_tokens", HUGE),
    ("[sandbox]", "cpu_seconds", HUGE),
    ("[sandbox]", "memory_mb", "99999999999999999"),
    ("[sandbox]", "file_mb", "99999999999999999"),
    ("[sandbox]", "processes", HUGE),
    ("[sandbox]", "disk_mb", "99999999999999999"),
    ("[notify]", "link_ttl_s", "inf"),
    ("[notify]", "link_ttl_s", "1e300"),
]


def _policy_text(table: str, key: str, value: str) -> str:
    return f"{table}\n{key} = {value}\n" if table else f"{key} = {value}\n"


@pytest.mark.parametrize(("table", "key", "value"), OUT_OF_RANGE)
def test_a_number_past_its_range_is_refused_naming_the_key(table, key, value):
    with pytest.raises(PolicyError) as refused:
        parse_policy(_policy_text(table, key, value), source="onloop.toml")
    message = str(refused.value)
    assert key in message and "less than or equal to" in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("", "approval_timeout_s", "604800"),  # a week
        ("[model]", "request_timeout_s", "3600"),
        ("[model]", "max_output_tokens", "0"),
        ("[sandbox]", "cpu_seconds", "86400"),
        ("[sandbox]", "memory_mb", "65536"),
        ("[sandbox]", "processes", "4096"),
        ("[sandbox]", "disk_mb", "1048576"),
        ("[notify]", "link_ttl_s", "604800"),
    ],
)
def test_generous_numbers_still_load(table, key, value):
    parse_policy(_policy_text(table, key, value), source="onloop.toml")


def test_a_policy_nested_past_the_parser_says_so_in_one_line():
    deep = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(PolicyError) as refused:
        parse_policy(deep, source="onloop.toml")
    assert "nested too deeply" in str(refused.value)


def test_the_cli_refuses_such_a_policy_in_one_line(tmp_path):
    (tmp_path / "p.toml").write_text("[sandbox]\ncpu_seconds = " + HUGE + "\n")
    (tmp_path / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    for name in ("p.toml", "deep.toml"):
        shown = onloop("policy", "show", "--policy", name, cwd=tmp_path)
        assert shown.returncode == 2, shown.stderr
        assert "Traceback" not in shown.stderr
        assert len(shown.stderr.strip().splitlines()) == 1, shown.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ONLOOP_REQUEST_TIMEOUT", "inf"),
        ("ONLOOP_REQUEST_TIMEOUT", "1e30"),
        ("ONLOOP_MAX_OUTPUT_TOKENS", HUGE),
    ],
)
def test_the_environment_past_its_range_is_refused_before_a_run(tmp_path, variable, value):
    env = {variable: value, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    done = onloop("run", "--model", "openai", "hi", cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert variable in done.stderr and "Traceback" not in done.stderr
    assert "internal error" not in done.stdout
    assert not (tmp_path / "onloop.db").exists() or "run " not in done.stdout
