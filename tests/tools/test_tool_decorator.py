"""The @tool decorator, argument validation, argument hashing and run_tool."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, Optional

import pytest

from agent_core.run.tool_runner import run_tool
from agent_core.tools import (
    Tool,
    ToolArgumentError,
    ToolError,
    Workspace,
    args_hash,
    canonical_json,
    parse_arguments,
    tool,
)

# --- the decorator ---------------------------------------------------------------------------


@tool("medium", polling=True)
def sample(
    workspace: Workspace,
    path: str,
    count: int,
    ratio: float,
    verbose: bool,
    tags: list[str],
    ids: list[int],
    mode: Literal["fast", "slow"] = "fast",
    note: Optional[str] = None,  # noqa: UP045  # the old spelling must work too
    label: str | None = None,
    limit: int = 5,
) -> str:
    """Do a sample thing.

    It has a second paragraph.

    Args:
        path (str): Where to look,
            relative to the workspace.
        count: How many.
        ratio: A fraction.
        verbose: Say more.
        tags: Labels to apply.
        ids: Numbers to use.
        mode: How quickly.
        note: An optional note.
        label: An optional label.
        limit: At most this many.

    Returns:
        Something.
    """
    return json.dumps({"path": path, "root": str(workspace.root), "count": count})


def test_schema_is_derived_from_hints_and_docstring() -> None:
    assert isinstance(sample, Tool)
    assert sample.name == "sample"
    assert sample.risk == "medium"
    assert sample.polling is True
    assert sample.description == "Do a sample thing.\n\nIt has a second paragraph."
    assert sample.parameters == {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Where to look, relative to the workspace."},
            "count": {"type": "integer", "description": "How many."},
            "ratio": {"type": "number", "description": "A fraction."},
            "verbose": {"type": "boolean", "description": "Say more."},
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Labels to apply.",
            },
            "ids": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Numbers to use.",
            },
            "mode": {
                "type": "string",
                "enum": ["fast", "slow"],
                "description": "How quickly.",
                "default": "fast",
            },
            "note": {"type": "string", "description": "An optional note.", "default": None},
            "label": {"type": "string", "description": "An optional label.", "default": None},
            "limit": {"type": "integer", "description": "At most this many.", "default": 5},
        },
        "required": ["path", "count", "ratio", "verbose", "tags", "ids"],
        "additionalProperties": False,
    }
    assert sample.wants_workspace


def test_spec_is_an_openai_tool_spec() -> None:
    spec = sample.spec()
    assert spec["type"] == "function"
    assert spec["function"]["name"] == "sample"
    assert spec["function"]["description"] == sample.description
    assert spec["function"]["parameters"] == sample.parameters
    spec["function"]["parameters"]["properties"].clear()  # a copy: the tool is unchanged
    assert "path" in sample.parameters["properties"]


def test_decorator_options() -> None:
    @tool
    def bare(x: int) -> str:
        """Echo.

        Args:
            x: A number.
        """
        return str(x)

    @tool("high", name="renamed-tool", describe=lambda a: f"echo {a['x']}")
    def named(x: int) -> str:
        """Echo.

        Args:
            x: A number.
        """
        return str(x)

    assert (bare.name, bare.risk, bare.polling, bare.wants_workspace) == (
        "bare",
        "low",
        False,
        False,
    )
    assert (named.name, named.risk) == ("renamed-tool", "high")
    assert named.describe({"x": 3}) == "echo 3"
    assert named.describe({}) == "run renamed-tool"  # a failing describer falls back
    assert bare.describe({"x": 3}) == "run bare with x=3"
    assert len({bare, named, bare}) == 2  # tools are hashable


def _undocumented(x: int) -> str:
    return str(x)


def _unhinted(x) -> str:  # type: ignore[no-untyped-def]
    """Echo.

    Args:
        x: A number.
    """
    return str(x)


def _undescribed(x: int, y: int) -> str:
    """Echo.

    Args:
        x: A number.
    """
    return str(x)


def _no_args_section(x: int) -> str:
    """Echo x."""
    return str(x)


def _dict_param(x: dict) -> str:
    """Echo.

    Args:
        x: A mapping.
    """
    return str(x)


def _union_param(x: int | str) -> str:
    """Echo.

    Args:
        x: A thing.
    """
    return str(x)


def _bare_list(x: list) -> str:
    """Echo.

    Args:
        x: Things.
    """
    return str(x)


def _star_args(*xs: int) -> str:
    """Echo.

    Args:
        xs: Numbers.
    """
    return str(xs)


def _stale_doc(x: int) -> str:
    """Echo.

    Args:
        x: A number.
        y: Gone.
    """
    return str(x)


def _bad_default(x: int = "three") -> str:  # type: ignore[assignment]
    """Echo.

    Args:
        x: A number.
    """
    return str(x)


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (_undocumented, "has no docstring"),
        (_unhinted, "parameter 'x' of tool '_unhinted' has no type hint"),
        (_undescribed, "parameter 'y' of tool '_undescribed' is not described"),
        (_no_args_section, "parameter 'x' of tool '_no_args_section' is not described"),
        (_dict_param, "unsupported type"),
        (_union_param, "unions other than Optional"),
        (_bare_list, "unsupported type"),
        (_star_args, "*args"),
        (_stale_doc, "describes ['y']"),
        (_bad_default, "the default must be an integer"),
    ],
)
def test_decorator_refuses_badly_declared_tools(fn: object, message: str) -> None:
    with pytest.raises(TypeError) as info:
        tool()(fn)
    assert message in str(info.value)


def test_decorator_refuses_a_bad_risk_or_name() -> None:
    with pytest.raises(TypeError, match="risk must be one of low, medium, high"):
        tool("extreme")(_no_args_section)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tool name 'has space'"):
        tool(name="has space")(_no_args_section)


# --- validation ------------------------------------------------------------------------------

VALID = {"path": "a.txt", "count": 2, "ratio": 0.5, "verbose": True, "tags": ["x"], "ids": [1]}


def test_validate_fills_defaults() -> None:
    assert sample.validate(VALID) == {
        **VALID,
        "mode": "fast",
        "note": None,
        "label": None,
        "limit": 5,
    }


def test_validate_normalises_numbers_and_nulls() -> None:
    result = sample.validate({**VALID, "ratio": 2, "count": 3.0, "limit": None, "note": "hi"})
    assert result["ratio"] == 2  # an int is a fine number
    assert result["count"] == 3 and isinstance(result["count"], int)  # 3.0 is a whole number
    assert result["limit"] == 5  # null for an optional argument means "not given"
    assert result["note"] == "hi"


def test_validate_is_idempotent_so_hashes_stay_stable() -> None:
    once = sample.validate({**VALID, "count": 2.0})
    assert sample.validate(once) == once
    assert args_hash(sample.validate(once)) == args_hash(once)


def test_a_hand_built_tool_validates_against_its_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"q": {"type": ["string", "null"]}, "opts": {"type": "object"}},
        "required": ["q"],
    }
    hand = Tool(name="hand", description="d", parameters=schema, risk="low", fn=lambda q, opts: q)
    assert hand.validate({"q": "x", "opts": {"a": 1}}) == {"q": "x", "opts": {"a": 1}}
    with pytest.raises(ToolArgumentError, match="opts: 3 is not of type 'object'"):
        hand.validate({"q": "x", "opts": 3})
    assert hand.describe({"q": "x"}) == "run hand with q='x'"
    assert not hand.wants_workspace


def test_validate_does_not_share_lists_with_the_caller() -> None:
    arguments = {**VALID, "tags": ["x"]}
    sample.validate(arguments)["tags"].append("y")
    assert arguments["tags"] == ["x"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"path": None}, "argument 'path' is required (string)"),
        ({"tags": None}, "argument 'tags' is required (array of strings)"),
        ({"extra": 1}, "unknown argument 'extra'"),
        ({"count": "2"}, "argument 'count' must be an integer, got string '2'"),
        ({"count": 2.5}, "argument 'count' must be an integer, got number 2.5"),
        ({"count": True}, "argument 'count' must be an integer, got boolean True"),
        ({"ratio": "0.5"}, "argument 'ratio' must be a number"),
        ({"verbose": "yes"}, "argument 'verbose' must be a boolean"),
        ({"tags": "x"}, "argument 'tags' must be an array of strings, got string 'x'"),
        ({"tags": ["x", 2]}, "argument 'tags' item 1 must be a string, got integer 2"),
        ({"ids": [1, "2"]}, "argument 'ids' item 1 must be an integer"),
        ({"mode": "medium"}, "argument 'mode' must be one of 'fast', 'slow', got 'medium'"),
    ],
)
def test_validate_refuses_with_actionable_messages(change: dict, message: str) -> None:
    arguments = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    with pytest.raises(ToolArgumentError) as info:
        sample.validate(arguments)
    assert message in str(info.value)
    assert "this tool takes: path (string), count (integer)" in str(info.value)


def test_validate_reports_every_problem_at_once() -> None:
    with pytest.raises(ToolArgumentError) as info:
        sample.validate({"path": 1, "bogus": 2})
    text = str(info.value)
    for part in ["unknown argument 'bogus'", "'path' must be a string", "'count' is required"]:
        assert part in text


def test_validate_refuses_non_objects() -> None:
    with pytest.raises(ToolArgumentError, match="must be a JSON object, got array"):
        sample.validate([1, 2])  # type: ignore[arg-type]


def test_parse_arguments() -> None:
    assert parse_arguments('{"a": 1}') == {"a": 1}
    assert parse_arguments("") == {}
    with pytest.raises(ToolArgumentError, match="not valid JSON"):
        parse_arguments('{"a": ')
    with pytest.raises(ToolArgumentError, match="must be a JSON object"):
        parse_arguments("[1]")


# --- hashing ---------------------------------------------------------------------------------


def test_canonical_json_and_args_hash() -> None:
    a = {"b": [1, 2], "a": "é"}
    b = {"a": "é", "b": [1, 2]}
    assert canonical_json(a) == canonical_json(b) == '{"a":"é","b":[1,2]}'
    expected = hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()
    assert args_hash(a) == args_hash(b) == expected
    assert args_hash({"a": 1}) != args_hash({"a": 2})


# --- run_tool --------------------------------------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    return Workspace(root)


def test_run_tool_validates_then_injects_the_workspace(ws: Workspace) -> None:
    output = json.loads(run_tool(sample, VALID, workspace=ws))
    assert output == {"path": "a.txt", "root": str(ws.root), "count": 2}


def test_run_tool_does_not_call_the_function_on_bad_arguments(ws: Workspace) -> None:
    calls = []

    @tool
    def record(x: int) -> str:
        """Record a call.

        Args:
            x: A number.
        """
        calls.append(x)
        return "ok"

    with pytest.raises(ToolArgumentError):
        run_tool(record, {"x": "one"}, workspace=ws)
    assert calls == []


def test_run_tool_turns_unexpected_errors_into_one_line(ws: Workspace) -> None:
    @tool
    def broken(path: str, workspace: Workspace) -> str:
        """Open a file the slow way.

        Args:
            path: A file.
        """
        return open(workspace.resolve(path), encoding="utf-8").read()

    @tool
    def buggy() -> str:
        """Fail with a multi-line message."""
        raise ValueError("first line\nsecond line")

    with pytest.raises(ToolError) as info:
        run_tool(broken, {"path": "missing.txt"}, workspace=ws)
    assert str(info.value) == ("broken failed: [Errno 2] No such file or directory: 'missing.txt'")
    with pytest.raises(ToolError) as info:
        run_tool(buggy, {}, workspace=ws)
    assert str(info.value) == "buggy failed: ValueError: first line second line"


def test_schemas_come_from_pydantic_without_title_noise() -> None:
    from agent_core.tools.builtins import builtin_tools

    @tool
    def picks(modes: list[Literal["a", "b"]], size: Literal[1, 2] = 1) -> str:
        """Pick modes.

        Args:
            modes: Which modes.
            size: How big.
        """
        return ",".join(modes)

    assert picks.parameters["properties"] == {
        "modes": {
            "type": "array",
            "items": {"type": "string", "enum": ["a", "b"]},
            "description": "Which modes.",
        },
        "size": {"type": "integer", "enum": [1, 2], "description": "How big.", "default": 1},
    }
    assert picks.validate({"modes": ["b"]}) == {"modes": ["b"], "size": 1}
    with pytest.raises(ToolArgumentError, match="item 0 must be one of 'a', 'b', got 'c'"):
        picks.validate({"modes": ["c"]})
    for t in [picks, sample, *builtin_tools().values()]:
        assert '"title"' not in json.dumps(t.parameters), t.name
        assert t.parameters["additionalProperties"] is False
