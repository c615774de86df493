"""One pydantic model per decorated tool, built from its type hints and docstring: its JSON schema
is what the model sees, and the same model checks the model's arguments, with the faults put in
words the model can act on."""

from __future__ import annotations

import copy
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from agent_core.tools.errors import ToolArgumentError
from agent_core.tools.validate import (
    describe_type,
    json_type,
    short_repr,
    what_it_takes,
    with_article,
)

_STRICT = ConfigDict(extra="forbid", strict=True)
_SCALARS = (str, int, float, bool)
_SUPPORTED = "str, int, float, bool, list[str], list[int], Literal[...] or Optional[...] of these"


def arguments_model(
    fn: Callable[..., Any], name: str, docs: dict[str, str], injected: tuple[str, ...]
) -> type[BaseModel]:
    """The strict model of `fn`'s parameters (all but the injected ones), described by `docs`.

    Raises TypeError for a parameter without a type hint or an Args description, a type the
    schema cannot express, a default that does not fit its type, or a stale docstring entry."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise TypeError(f"tool {name!r}: cannot read its type hints: {exc}") from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.name in injected:
            continue
        where = f"parameter {param.name!r} of tool {name!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"{where}: *args, **kwargs and positional-only parameters are refused")
        if param.name not in hints:
            raise TypeError(f"{where} has no type hint")
        if not docs.get(param.name):
            raise TypeError(f"{where} is not described in the docstring's Args section")
        hint = hints[param.name]
        optional = _check_hint(hint, where)
        if param.default is not param.empty:
            default = _checked_default(hint, param.default, where)
        else:
            default = None if optional else ...
        fields[param.name] = (hint, Field(default, description=docs[param.name]))
    unknown = sorted(set(docs) - set(fields) - set(injected))
    if unknown:
        raise TypeError(f"tool {name!r}: the docstring describes {unknown}, not parameters")
    return create_model(f"{name}_arguments", __config__=_STRICT, **fields)


def chat_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema as Chat Completions takes it: no titles, Optional[X] spelled as X
    (null means "not given"), every key in `required` listed, no extra properties."""
    raw = model.model_json_schema()
    properties = {}
    for key, prop in raw.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        variants = prop.pop("anyOf", None)
        if variants is not None:  # only Optional[X] gets here (_check_hint refuses other unions)
            (inner,) = [v for v in variants if v != {"type": "null"}]
            prop = {**inner, **prop}
        properties[key] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": list(raw.get("required", [])),
        "additionalProperties": False,
    }


def _check_hint(hint: Any, where: str) -> bool:
    """Refuse types the schema should not offer a model; return whether None is allowed."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        if len(others) == 1 and len(args) == 2:
            _check_hint(others[0], where)
            return True
        raise TypeError(f"{where}: unions other than Optional[X] are not supported ({hint})")
    if hint in _SCALARS:
        return False
    if origin is Literal:
        if args and all(isinstance(v, str) for v in args):
            return False
        if args and all(isinstance(v, int) and not isinstance(v, bool) for v in args):
            return False
        raise TypeError(f"{where}: Literal values must be all strings or all integers")
    item = args[0] if origin is list and len(args) == 1 else None
    if item is not None and (item in _SCALARS or get_origin(item) is Literal):
        _check_hint(item, where)
        return False
    raise TypeError(f"{where}: unsupported type {hint!r}; use {_SUPPORTED}")


def _checked_default(hint: Any, default: Any, where: str) -> Any:
    """The default as a JSON value, checked against the parameter's own type."""
    if isinstance(default, tuple):
        default = list(default)
    if default is None:
        return None
    try:
        TypeAdapter(hint, config=ConfigDict(strict=True)).validate_python(default)
    except ValidationError:
        wanted = describe_type(_property_of(hint))
        raise TypeError(
            f"{where}: the default must be {with_article(wanted)}, got {json_type(default)} "
            f"{short_repr(default)}"
        ) from None
    return default


def _property_of(hint: Any) -> dict:
    model = create_model("one", x=(hint, ...))
    return chat_schema(model)["properties"]["x"]


def pydantic_validator(model: type[BaseModel], parameters: dict) -> Callable[[Any], dict]:
    """A validator of a model's arguments against the tool's own model (the schema's source)."""
    properties: dict = parameters["properties"]
    required = set(parameters["required"])

    def validate(arguments: Any) -> dict:
        if not isinstance(arguments, dict):
            raise ToolArgumentError(
                f"arguments must be a JSON object, got {json_type(arguments)}; "
                f"{what_it_takes(parameters)}"
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
                "; ".join(dict.fromkeys(problems)) + f"; {what_it_takes(parameters)}"
            ) from None
        return {name: copy.deepcopy(getattr(checked, name)) for name in properties}

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
        return f"{label} must be one of {choices}, got {short_repr(value)}"
    return f"{label} must be {with_article(describe_type(prop))}, got {json_type(value)} {short_repr(value)}"
