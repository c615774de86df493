"""Arguments of a decorated tool checked by pydantic against the function's own type hints, with
the faults put in words the model can act on."""

from __future__ import annotations

import copy
import inspect
import typing
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from agent_core.tools.errors import ToolArgumentError
from agent_core.tools.validate import _article, _json_type, _short, _signature, describe_type

_STRICT = ConfigDict(extra="forbid", strict=True)


def pydantic_validator(
    fn: Callable[..., Any], parameters: dict, injected: tuple[str, ...]
) -> Callable[[Any], dict]:
    """A validator for `fn`'s arguments (all but the injected ones), built from its type hints."""
    hints = typing.get_type_hints(fn)
    properties: dict = parameters["properties"]
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.name in injected:
            continue
        default = (
            ... if param.name in parameters["required"] else properties[param.name].get("default")
        )
        fields[param.name] = (hints[param.name], default)
    model = create_model(f"{fn.__name__}_arguments", __config__=_STRICT, **fields)
    required = set(parameters["required"])

    def validate(arguments: Any) -> dict:
        if not isinstance(arguments, dict):
            raise ToolArgumentError(
                f"arguments must be a JSON object, got {_json_type(arguments)}; "
                f"{_signature(parameters)}"
            )
        # null for an optional argument means "not given"; a whole float is fine as an integer
        given = {
            k: _whole(properties.get(k, {}), v)
            for k, v in arguments.items()
            if v is not None or k in required or k not in properties
        }
        try:
            checked = model.model_validate(given)
        except ValidationError as exc:
            problems = [_problem(error, properties, required) for error in exc.errors()]
            raise ToolArgumentError(
                "; ".join(dict.fromkeys(problems)) + f"; {_signature(parameters)}"
            ) from None
        result = {}
        for name in properties:
            if name in checked.model_fields_set:
                result[name] = copy.deepcopy(getattr(checked, name))
            elif "default" in properties[name]:
                result[name] = copy.deepcopy(properties[name]["default"])
        return result

    return validate


def _whole(prop: dict, value: Any) -> Any:
    """20.0 becomes 20 where the schema asks for an integer (models often send floats)."""
    if prop.get("type") == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if prop.get("type") == "array" and isinstance(value, list):
        return [_whole(prop.get("items", {}), v) for v in value]
    return value


def _problem(error: Any, properties: dict, required: set[str]) -> str:
    loc = error["loc"]
    name = str(loc[0]) if loc else "?"
    prop = properties.get(name, {})
    value = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"unknown argument {name!r}"
    if error["type"] == "missing" or (value is None and name in required and len(loc) == 1):
        return f"argument {name!r} is required ({describe_type(prop)})"
    label = f"argument {name!r}"
    if len(loc) > 1 and isinstance(loc[1], int):
        label += f" item {loc[1]}"
        prop = prop.get("items", {})
    if "enum" in prop:
        choices = ", ".join(repr(c) for c in prop["enum"])
        return f"{label} must be one of {choices}, got {_short(value)}"
    return (
        f"{label} must be {_article(describe_type(prop))}, got {_json_type(value)} {_short(value)}"
    )
