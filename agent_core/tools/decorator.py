"""The @tool decorator: a typed, documented function becomes a Tool with a derived JSON schema."""

from __future__ import annotations

import copy
import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

from agent_core.tools.arguments import pydantic_validator
from agent_core.tools.context import CONTEXT_PARAMETER
from agent_core.tools.docstrings import parse_docstring
from agent_core.tools.errors import ToolArgumentError
from agent_core.tools.validate import check_value, validate_arguments

Risk = Literal["low", "medium", "high"]
RISKS: tuple[str, ...] = ("low", "medium", "high")
WORKSPACE_PARAMETER = "workspace"  # injected by run_tool, never part of the schema
INJECTED = (WORKSPACE_PARAMETER, CONTEXT_PARAMETER)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI accepts as a function name
_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SUPPORTED = "str, int, float, bool, list[str], list[int], Literal[...] or Optional[...] of these"


@dataclass(frozen=True)
class ArgumentKinds:
    """Which arguments name files or hold a shell command line: policy rules see their targets."""

    paths: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    guessed: bool = False  # not declared by the tool: read from argument names, as text only


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict  # JSON schema of an object
    risk: Risk
    fn: Callable[..., str]
    polling: bool = False  # True for tools that wait on something; drift monitors expect repeats
    describer: Callable[[dict], str] | None = field(default=None, compare=False, repr=False)
    argument_kinds: ArgumentKinds = ArgumentKinds()
    source: str = "built-in"  # "built-in", "module <name>" or "mcp <server>"
    risk_from: str = "declared"  # where the risk came from: declared, config, annotations, default
    # Checks arguments against a schema the tool did not derive (an MCP server's): jsonschema.
    validator: Callable[[dict], dict] | None = field(default=None, compare=False, repr=False)

    def __hash__(self) -> int:  # the schema dict is unhashable; a tool is known by name and risk
        return hash((self.name, self.risk))

    def spec(self) -> dict:
        """The OpenAI Chat Completions tool spec."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(self.parameters),
            },
        }

    def validate(self, arguments: dict) -> dict:
        """The arguments checked against the schema, with defaults filled; or ToolArgumentError."""
        if self.validator is not None:
            return self.validator(arguments)
        return validate_arguments(self.parameters, arguments)

    def describe(self, arguments: dict) -> str:
        """What this call would do, in plain words for the person approving it."""
        if self.describer is not None:
            try:
                text = self.describer(arguments)
            except Exception:  # a describer must never block an approval: fall back to plain words
                text = None
            if isinstance(text, str) and text.strip():
                return text
        return plain_description(self.name, arguments)

    @property
    def wants_workspace(self) -> bool:
        """Whether the function takes the run's Workspace (injected by run_tool)."""
        return WORKSPACE_PARAMETER in inspect.signature(self.fn).parameters

    @property
    def wants_context(self) -> bool:
        """Whether the function takes the call's ToolContext (injected by run_tool)."""
        return CONTEXT_PARAMETER in inspect.signature(self.fn).parameters


def tool(
    risk: Risk | Callable[..., str] = "low",
    *,
    name: str | None = None,
    polling: bool = False,
    describe: Callable[[dict], str] | None = None,
    paths: tuple[str, ...] = (),
    commands: tuple[str, ...] = (),
) -> Any:
    """Make a Tool of a function: `@tool(risk="high")`, or bare `@tool` for a low-risk tool.

    `paths` names the parameters that are workspace paths (str or list[str]) and `commands` those
    that are shell command lines; policy rules then match what they really touch and run.
    Raises TypeError at decoration time when the function lacks a docstring, a type hint or an
    Args description for a parameter, or uses a type the schema cannot express.
    """
    if callable(risk):  # used bare: @tool
        return make_tool(risk, risk="low")

    def decorate(fn: Callable[..., str]) -> Tool:
        return make_tool(
            fn,
            risk=risk,
            name=name,
            polling=polling,
            describe=describe,
            kinds=ArgumentKinds(tuple(paths), tuple(commands)),
        )

    return decorate


def make_tool(
    fn: Callable[..., str],
    *,
    risk: str = "low",
    name: str | None = None,
    polling: bool = False,
    describe: Callable[[dict], str] | None = None,
    kinds: ArgumentKinds = ArgumentKinds(),
) -> Tool:
    """Derive a Tool from a function's type hints and Google-style docstring."""
    name = name or fn.__name__
    if not _NAME.match(name):
        raise TypeError(f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'")
    if risk not in RISKS:
        raise TypeError(f"tool {name!r}: risk must be one of {', '.join(RISKS)}, not {risk!r}")
    doc = inspect.getdoc(fn)
    if not doc or not doc.strip():
        raise TypeError(f"tool {name!r} has no docstring; the model needs it to know what it does")
    parsed = parse_docstring(doc)
    if not parsed.summary:
        raise TypeError(f"tool {name!r}: the docstring needs a summary before its Args section")
    parameters = derive_parameters(fn, name, parsed.args)
    _check_kinds(name, parameters, kinds)
    validator = pydantic_validator(fn, parameters, INJECTED)
    return Tool(
        name=name,
        description=parsed.summary,
        parameters=parameters,
        risk=risk,  # type: ignore[arg-type]  # checked against RISKS above
        fn=fn,
        polling=polling,
        describer=describe,
        argument_kinds=kinds,
        validator=validator,
    )


def _check_kinds(name: str, parameters: dict, kinds: ArgumentKinds) -> None:
    """Path parameters are strings or lists of strings; command parameters are strings."""
    properties = parameters["properties"]
    for arg in (*kinds.paths, *kinds.commands):
        if arg not in properties:
            raise TypeError(
                f"tool {name!r}: {arg!r} is marked as a path or command, not a parameter"
            )
        prop = properties[arg]
        is_list = prop.get("type") == "array" and prop["items"].get("type") == "string"
        if prop.get("type") != "string" and not (is_list and arg in kinds.paths):
            raise TypeError(f"tool {name!r}: marked parameter {arg!r} must be a str or list[str]")


def derive_parameters(fn: Callable[..., Any], name: str, docs: dict[str, str]) -> dict:
    """The JSON schema of the function's parameters (all but the injected ones)."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise TypeError(f"tool {name!r}: cannot read its type hints: {exc}") from exc
    properties: dict[str, dict] = {}
    required: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.name in INJECTED:
            continue
        where = f"parameter {param.name!r} of tool {name!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"{where}: *args, **kwargs and positional-only parameters are refused")
        if param.name not in hints:
            raise TypeError(f"{where} has no type hint")
        if not docs.get(param.name):
            raise TypeError(f"{where} is not described in the docstring's Args section")
        prop, optional = schema_for(hints[param.name], where)
        prop["description"] = docs[param.name]
        if param.default is not param.empty:
            prop["default"] = _json_default(param.default, prop, where)
        elif optional:
            prop["default"] = None
        else:
            required.append(param.name)
        properties[param.name] = prop
    unknown = sorted(set(docs) - set(properties) - set(INJECTED))
    if unknown:
        raise TypeError(f"tool {name!r}: the docstring describes {unknown}, not parameters")
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def schema_for(hint: Any, where: str) -> tuple[dict, bool]:
    """One type hint as a JSON schema property, and whether None is allowed (Optional)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        if len(others) == 1 and len(args) == 2:
            return schema_for(others[0], where)[0], True
        raise TypeError(f"{where}: unions other than Optional[X] are not supported ({hint})")
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}, False
    if origin is Literal:
        return _literal_schema(args, where), False
    item = args[0] if origin is list and len(args) == 1 else None
    if item is not None and (item in _SCALARS or get_origin(item) is Literal):
        return {"type": "array", "items": schema_for(item, where)[0]}, False
    raise TypeError(f"{where}: unsupported type {hint!r}; use {_SUPPORTED}")


def _literal_schema(values: tuple, where: str) -> dict:
    if values and all(isinstance(v, str) for v in values):
        return {"type": "string", "enum": list(values)}
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return {"type": "integer", "enum": list(values)}
    raise TypeError(f"{where}: Literal values must be all strings or all integers")


def _json_default(default: Any, prop: dict, where: str) -> Any:
    """The default as a JSON value, checked against the parameter's own type."""
    if default is None:
        return None
    if isinstance(default, tuple):
        default = list(default)
    try:
        check_value(prop, default, "the default")
    except ToolArgumentError as exc:
        raise TypeError(f"{where}: {exc}") from exc
    return default


def plain_description(name: str, arguments: Any) -> str:
    """The fallback description: the tool's name and its arguments, shortened."""
    if not isinstance(arguments, dict) or not arguments:
        return f"run {name}"
    parts = []
    for key, value in arguments.items():
        text = repr(value)
        parts.append(f"{key}={text if len(text) <= 80 else text[:77] + '...'}")
    return f"run {name} with " + ", ".join(parts)
