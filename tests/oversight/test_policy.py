"""Policy rules: matching, precedence, autonomy defaults, fail-closed, and the policy file."""

from __future__ import annotations

import pytest

from agent_core.oversight.policy import Policy, Rule, decide
from agent_core.oversight.policy_check import check_call
from agent_core.oversight.policy_file import (
    PolicyError,
    default_policy_text,
    load_policy,
    parse_policy,
)
from agent_core.tools import ArgumentKinds, builtin_tools
from agent_core.tools.decorator import make_tool


def verdict(policy, tool="write_file", risk="medium", autonomy="supervised", **arguments):
    return decide(
        policy, tool=tool, risk=risk, arguments=arguments, autonomy=autonomy, args_hash="h"
    )


@pytest.mark.parametrize(
    ("autonomy", "risk", "expected"),
    [
        ("manual", "low", "ask"),
        ("manual", "medium", "ask"),
        ("manual", "high", "ask"),
        ("supervised", "low", "allow"),
        ("supervised", "medium", "ask"),
        ("supervised", "high", "ask"),
        ("autonomous", "low", "allow"),
        ("autonomous", "medium", "allow"),
        ("autonomous", "high", "ask"),
    ],
)
def test_risk_and_autonomy_decide_when_no_rule_matches(autonomy, risk, expected):
    result = verdict(Policy(), risk=risk, autonomy=autonomy)
    assert result.verdict == expected and result.rule is None
    assert result.reason == f"{risk}-risk tool in {autonomy} mode"


def test_tool_glob_and_argument_glob_and_regex():
    policy = Policy(
        rules=[
            Rule(tool="write_*", args={"path": "*.md"}, action="allow", name="markdown ok"),
            Rule(
                tool="run_shell",
                args={"command": "re:^git (status|log)"},
                action="allow",
                name="read-only git",
            ),
        ]
    )
    assert verdict(policy, path="notes.md").rule == "markdown ok"
    assert verdict(policy, path="notes.md").verdict == "allow"
    assert verdict(policy, path="notes.txt").verdict == "ask"
    assert verdict(policy, tool="run_shell", risk="high", command="git status").verdict == "allow"
    assert verdict(policy, tool="run_shell", risk="high", command="git push").verdict == "ask"


def test_list_arguments_match_if_any_item_matches():
    policy = Policy(rules=[Rule(tool="delete_files", args={"paths": "*.py"}, action="deny")])
    assert (
        verdict(policy, tool="delete_files", risk="high", paths=["a.tmp", "b.py"]).verdict == "deny"
    )
    assert verdict(policy, tool="delete_files", risk="high", paths=["a.tmp"]).verdict == "ask"


def test_deny_wins_over_ask_and_ask_over_allow_whatever_the_order():
    rules = [
        Rule(tool="*", action="allow", name="allow all"),
        Rule(tool="write_file", action="ask", name="ask writes"),
        Rule(tool="write_file", args={"path": "secret*"}, action="deny", name="no secrets"),
    ]
    for ordered in (rules, list(reversed(rules))):
        policy = Policy(rules=ordered)
        assert verdict(policy, path="secret.txt").rule == "no secrets"
        assert verdict(policy, path="notes.txt").rule == "ask writes"
        assert verdict(policy, tool="calculator", risk="low").rule == "allow all"


def test_allow_rule_overrides_the_autonomy_default():
    policy = Policy(rules=[Rule(tool="write_file", action="allow", reason="writes are fine")])
    result = verdict(policy, autonomy="manual")
    assert (result.verdict, result.reason) == ("allow", "writes are fine")


def test_unknown_autonomy_or_risk_and_errors_inside_the_policy_deny():
    assert verdict(Policy(), autonomy="yolo").verdict == "deny"
    assert verdict(Policy(), risk="extreme").verdict == "deny"

    class Broken:
        rules = property(lambda self: 1 / 0)

    result = decide(Broken(), tool="x", risk="low", arguments={}, autonomy="supervised")  # type: ignore[arg-type]
    assert result.verdict == "deny" and "could not decide" in result.reason


def test_the_shipped_default_policy_loads_and_denies_secrets():
    policy = parse_policy(default_policy_text(), source="defaults")
    assert verdict(policy, tool="read_file", risk="low", path=".env").verdict == "deny"
    assert verdict(policy, tool="run_shell", risk="high", command="rm -rf build").verdict == "deny"
    assert verdict(policy, tool="read_file", risk="low", path="notes.md").verdict == "allow"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[rules]]\ntool = "x"\naction = "perhaps"\n', "line 3: rules.0.action"),
        (
            '[[rules]]\ntool = "x"\naction = "deny"\n\n[[rules]]\nactoin = "ask"\n',
            "line 6: rules.1.actoin: Extra",
        ),
        ("on_budget = 'explode'\n", "line 1: on_budget"),
        ("rules = [\n", "invalid TOML"),
        ('[[rules]]\naction = "deny"\nargs = { path = "re:(" }\n', "not a valid regex"),
        ("[monitors]\nrepeat_same_call = 1\n", "monitors.repeat_same_call"),
    ],
)
def test_malformed_policy_names_the_line_and_the_reason(text, expected):
    with pytest.raises(PolicyError) as error:
        parse_policy(text, source="p.toml")
    assert str(error.value).startswith("p.toml") and expected in str(error.value)


def test_load_policy_prefers_the_path_then_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_policy().source == "built-in defaults"
    (tmp_path / "onloop.toml").write_text('on_budget = "halt"\n')
    assert load_policy().on_budget == "halt"
    other = tmp_path / "other.toml"
    other.write_text('on_budget = "fail"\n')
    monkeypatch.setenv("ONLOOP_POLICY", str(other))
    assert load_policy().on_budget == "fail"
    assert load_policy(tmp_path / "onloop.toml").on_budget == "halt"
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.toml")


# -- precedence, parts and the documented semantics ----------------------------------------------


def shell(policy, command, autonomy="supervised", allowance=None, args_hash="h"):
    return decide(
        policy,
        tool="run_shell",
        risk="high",
        arguments={"command": command},
        autonomy=autonomy,
        args_hash=args_hash,
        allowance=allowance,
        kinds=builtin_tools()["run_shell"].argument_kinds,
    )


def test_the_strongest_match_wins_and_order_only_names_the_rule_among_equals():
    first = Rule(tool="*", paths=["*.txt"], action="deny", name="no txt")
    second = Rule(tool="read_file", paths=["secret*"], action="deny", name="no secrets")
    allow = Rule(tool="*", action="allow", name="allow all")
    for rules, named in (
        ([allow, first, second], "no txt"),
        ([second, first, allow], "no secrets"),
    ):
        result = verdict(Policy(rules=rules), tool="read_file", risk="low", path="secret.txt")
        assert (result.verdict, result.rule) == ("deny", named)


def test_a_compound_command_is_allowed_only_when_every_part_is():
    policy = Policy(
        rules=[
            Rule(tool="run_shell", commands=["ls"], action="allow", name="ls"),
            Rule(tool="run_shell", commands=["cat"], action="allow", name="cat"),
            Rule(tool="run_shell", commands=["git push"], action="ask", name="pushes"),
        ]
    )
    both = shell(policy, "ls -la && cat notes.md")
    assert (both.verdict, both.rule) == ("allow", "ls, cat")
    assert shell(policy, "ls; curl -s http://x").verdict == "ask"  # curl: no rule, high risk
    assert shell(policy, "ls; git push -f origin").rule == "pushes"
    assert shell(policy, "ls; curl x", autonomy="autonomous").reason == (
        "high-risk tool in autonomous mode"
    )


def test_the_default_policy_file_documents_what_decide_does():
    text = default_policy_text()
    assert "checked in order" not in text
    assert "whatever the rules' order" in text and "never allow" in text
    policy = parse_policy(text, source="defaults")
    assert [rule.action for rule in policy.rules] == ["deny", "deny"]
    assert {"rm -r", "find -delete"} <= set(policy.rules[1].commands)


def test_policy_check_uses_the_same_canonical_paths_without_a_workspace_and_says_so():
    policy = parse_policy(default_policy_text(), source="defaults")
    checked = check_call(
        policy, tool_name="read_file", arguments_json='{"path": "./.env/."}', autonomy="supervised"
    )
    assert checked.decision.verdict == "deny" and checked.decision.rule == "never touch secrets"
    assert "without a run's workspace" in checked.note
    shell_check = check_call(
        policy,
        tool_name="run_shell",
        arguments_json='{"command": "ls && /bin/rm --recursive x"}',
        autonomy="autonomous",
    )
    assert shell_check.decision.rule == "no recursive deletes in shell"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[rules]]\naction = "deny"\ncommands = [""]\n', "command pattern is empty"),
        ('[[rules]]\naction = "deny"\ncommands = ["re:("]\n', "not a valid regex"),
        ('[[rules]]\naction = "deny"\npaths = ["re:("]\n', "not a valid regex"),
        ('[[rules]]\naction = "deny"\ncommands = ["rm \'-r"]\n', "cannot be read"),
    ],
)
def test_malformed_path_and_command_patterns_are_refused(text, expected):
    with pytest.raises(PolicyError, match=expected):
        parse_policy(text, source="p.toml")


def test_path_and_command_marks_must_name_string_parameters():
    def reader(path: str, count: int) -> str:
        """Read.

        Args:
            path: A file.
            count: How many.
        """
        return path

    assert make_tool(reader, kinds=ArgumentKinds(paths=("path",))).argument_kinds.paths == ("path",)
    for kinds in (ArgumentKinds(paths=("nope",)), ArgumentKinds(paths=("count",))):
        with pytest.raises(TypeError, match="marked"):
            make_tool(reader, kinds=kinds)
    marked = {name: t.argument_kinds for name, t in builtin_tools().items()}
    assert marked["delete_files"].paths == ("paths",) and marked["run_shell"].commands == (
        "command",
    )
    assert all(marked[name].paths for name in ("list_files", "read_file", "write_file"))


def test_a_policy_file_in_the_old_syntax_keeps_working_and_now_sees_canonical_paths():
    old = parse_policy(
        '[[rules]]\nname = "never touch secrets"\ntool = "*"\n'
        'args = { path = "re:(^|/)(\\\\.env|.*\\\\.pem|id_rsa)$" }\naction = "deny"\n\n'
        '[[rules]]\nname = "no recursive deletes in shell"\ntool = "run_shell"\n'
        'args = { command = "re:rm\\\\s+-[a-zA-Z]*r" }\naction = "deny"\n',
        source="old.toml",
    )
    tools = builtin_tools()

    def check(tool, **arguments):
        return decide(
            old,
            tool=tool,
            risk=tools[tool].risk,
            arguments=arguments,
            autonomy="autonomous",
            kinds=tools[tool].argument_kinds,
        ).verdict

    assert check("read_file", path="./.env/") == "deny"  # was allowed: the spelling hid it
    assert check("delete_files", paths=["a.tmp", "keys//id_rsa/"]) == "deny"  # was ask
    assert check("run_shell", command="rm -rf build") == "deny"
    assert check("read_file", path="notes.md") == "allow"


@pytest.mark.parametrize(
    "pattern",
    [
        "**",
        "/**",
        "**/**",
        "/**/",
        "a/**",
        "**/*.md",
        "/docs/",
        "*.env",
        ".env",
        "/a/**/b",
        "[!.]*",
    ],
)
def test_patterns_matched_together_name_the_same_paths_as_one_by_one(pattern):
    """Folder walks match many patterns in one regex: it must agree with the one-pattern path
    (a deny rule for `**` once missed every file at the workspace's root that way)."""
    from agent_core.oversight.path_patterns import any_path_matches, path_matches

    paths = ["todo.md", "a/b.md", "a", ".env", "app/.env", "docs/x/y.md", "a/x/b", "/abs", "~/x"]
    for path in paths:
        assert any_path_matches((pattern,), path) == path_matches(pattern, path), (pattern, path)
