"""Check a model's arguments against a tool's schema, with messages the model can act on."""

from __future__ import annotations

import copy
import json
from typing import Any

from agent_core.tools.errors import ToolArgumentError

_PLURALS = {"string": "strings", "integer": "integers", "number": "numbers", "boolean": "booleans"}


def parse_arguments(raw: str) -> dict:
    """A model's raw arguments text as a dict; empty text means no arguments."""
    if not raw or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ToolArgumentError(
            f"arguments are not valid JSON ({exc.msg} at character {exc.pos}); "
            'send one JSON object such as {"path": "notes.txt"}'
        ) from None
    if not isinstance(value, dict):
        raise ToolArgumentError(f"arguments must be a JSON object, got {_json_type(value)}")
    return value


def validate_arguments(schema: dict, arguments: Any) -> dict:
    """Return the arguments with defaults filled in, or raise ToolArgumentError naming every fault.

    Normalising also turns a whole float (20.0) into an int where the schema asks for an integer,
    and treats null for an optional argument as "not given".
    """
    if not isinstance(arguments, dict):
        raise ToolArgumentError(
            f"arguments must be a JSON object, got {_json_type(arguments)}; {_signature(schema)}"
        )
    properties: dict = schema.get("properties", {})
    required = set(schema.get("required", []))
    problems: list[str] = []
    result: dict = {}
    for key in arguments:
        if key not in properties:
            problems.append(f"unknown argument {key!r}")
    for name, prop in properties.items():
        value = arguments.get(name)
        if value is None and name not in required:
            if "default" in prop:
                result[name] = copy.deepcopy(prop["default"])
            continue
        if name not in arguments or value is None:
            problems.append(f"argument {name!r} is required ({describe_type(prop)})")
            continue
        try:
            result[name] = check_value(prop, value, f"argument {name!r}")
        except ToolArgumentError as exc:
            problems.append(str(exc))
    if problems:
        raise ToolArgumentError("; ".join(problems) + f"; {_signature(schema)}")
    return result


def check_value(prop: dict, value: Any, label: str) -> Any:
    """Check one value against one property schema; return it normalised."""
    kind = prop.get("type")
    if kind is not None and not _matches(kind, value):
        wanted, got = _article(describe_type(prop)), f"{_json_type(value)} {_short(value)}"
        raise ToolArgumentError(f"{label} must be {wanted}, got {got}")
    if kind == "integer" and isinstance(value, float):
        value = int(value)
    if kind == "array":
        items = prop.get("items", {})
        value = [check_value(items, v, f"{label} item {i}") for i, v in enumerate(value)]
    if "enum" in prop and value not in prop["enum"]:
        choices = ", ".join(repr(c) for c in prop["enum"])
        raise ToolArgumentError(f"{label} must be one of {choices}, got {_short(value)}")
    return copy.deepcopy(value) if isinstance(value, dict) else value


def describe_type(prop: dict) -> str:
    """A property's type in a few words, e.g. 'string', 'array of strings', "one of 'a', 'b'"."""
    if "enum" in prop:
        return "one of " + ", ".join(repr(c) for c in prop["enum"])
    kind = prop.get("type", "any value")
    if kind == "array" and "type" in prop.get("items", {}):
        item = prop["items"]["type"]
        return f"array of {_PLURALS.get(item, item)}"
    return str(kind)


def _article(words: str) -> str:
    if words.startswith("one of"):
        return words
    return ("an " if words[:1] in ("a", "e", "i", "o", "u") else "a ") + words


def _matches(kind: str | list, value: Any) -> bool:
    if isinstance(kind, list):  # {"type": ["string", "null"]} in a hand-written schema
        return any(_matches(k, value) for k in kind)
    if isinstance(value, bool):  # bool is an int in Python but never a number in JSON
        return kind == "boolean"
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) or (isinstance(v, float) and v.is_integer()),
        "number": lambda v: isinstance(v, int | float),
        "boolean": lambda v: False,
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "null": lambda v: v is None,
    }
    check = checks.get(kind)
    return True if check is None else check(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for py, name in ((str, "string"), (int, "integer"), (float, "number"), (list, "array")):
        if isinstance(value, py):
            return name
    return "object" if isinstance(value, dict) else type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _signature(schema: dict) -> str:
    """What the tool takes, so the model can retry correctly in one go."""
    required = set(schema.get("required", []))
    parts = [
        f"{name} ({describe_type(prop)}{'' if name in required else ', optional'})"
        for name, prop in schema.get("properties", {}).items()
    ]
    return "this tool takes: " + (", ".join(parts) if parts else "no arguments")
