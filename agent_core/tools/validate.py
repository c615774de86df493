"""Parse a model's arguments, check them against a schema no Python function describes
(jsonschema), and say what a tool takes in words the model can act on."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import jsonschema

from agent_core.tools.errors import ToolArgumentError

_PLURALS = {"string": "strings", "integer": "integers", "number": "numbers", "boolean": "booleans"}


def parse_arguments(raw: str) -> dict:
    """A model's raw arguments text as a dict; empty text means no arguments."""
    if not raw or not raw.strip():
        return {}
    try:
        value = loads_json(raw)
    except json.JSONDecodeError as exc:
        raise ToolArgumentError(
            f"arguments are not valid JSON ({exc.msg} at character {exc.pos}); "
            'send one JSON object such as {"path": "notes.txt"}'
        ) from None
    except ValueError as exc:
        raise ToolArgumentError(f"arguments are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ToolArgumentError(f"arguments must be a JSON object, got {json_type(value)}")
    return value


def loads_json(text: str) -> Any:
    """A model's JSON, as JSON has it: `NaN`, `Infinity`, `-Infinity` (which Python's json reads)
    and numbers too large for a float (`1e999`, read as Infinity) are a ValueError naming them.
    A schema's "number" took them, so a call ran with them and its event held text no JSON reader
    takes (`onloop show --json`, a PostgreSQL store)."""
    return json.loads(text, parse_constant=_not_json, parse_float=_finite)


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not a JSON number; send a number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large a number; send a smaller one")
    return number


def schema_validator(schema: dict, label: str) -> Callable[[Any], dict]:
    """A validator of arguments against a JSON schema a tool did not derive from Python (an MCP
    server's, a hand-built one), with jsonschema; errors as text."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)  # a server's broken schema refuses the tool, not the run
    checker = cls(schema)

    def validate(arguments: Any) -> dict:
        if not isinstance(arguments, dict):
            raise ToolArgumentError(f"arguments for {label} must be a JSON object")
        errors = sorted(checker.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if errors:
            problems = []
            for error in errors[:5]:
                where = "/".join(str(p) for p in error.absolute_path)
                problems.append(f"{where + ': ' if where else ''}{error.message}")
            raise ToolArgumentError(f"arguments do not fit {label}: " + "; ".join(problems))
        return copy.deepcopy(arguments)

    return validate


def describe_type(prop: dict) -> str:
    """A property's type in a few words, e.g. 'string', 'array of strings', "one of 'a', 'b'"."""
    if "enum" in prop:
        return "one of " + ", ".join(repr(c) for c in prop["enum"])
    kind = prop.get("type", "any value")
    if kind == "array" and "type" in prop.get("items", {}):
        item = prop["items"]["type"]
        return f"array of {_PLURALS.get(item, item)}"
    return str(kind)


def with_article(words: str) -> str:
    """'a string', 'an integer'; 'one of ...' as it is."""
    if words.startswith("one of"):
        return words
    return ("an " if words[:1] in ("a", "e", "i", "o", "u") else "a ") + words


def json_type(value: Any) -> str:
    """What JSON calls the type of `value` (a model's argument): string, integer, array, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for py, name in ((str, "string"), (int, "integer"), (float, "number"), (list, "array")):
        if isinstance(value, py):
            return name
    return "object" if isinstance(value, dict) else type(value).__name__


def short_repr(value: Any) -> str:
    """A value as Python writes it, cut to 60 characters (an error message quotes it)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def what_it_takes(schema: dict) -> str:
    """What the tool takes, so the model can retry correctly in one go."""
    required = set(schema.get("required", []))
    parts = [
        f"{name} ({describe_type(prop)}{'' if name in required else ', optional'})"
        for name, prop in schema.get("properties", {}).items()
    ]
    return "this tool takes: " + (", ".join(parts) if parts else "no arguments")
