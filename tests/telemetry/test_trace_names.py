"""The attribute names on onloop's spans: the GenAI, server and error ones are the
opentelemetry-semantic-conventions package's own constants, never typed by hand."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes
from opentelemetry.semconv.attributes import error_attributes, server_attributes

from agent_core.telemetry import trace_names

TELEMETRY = Path(trace_names.__file__).parent
STANDARD = ("gen_ai.", "server.", "error.")
NAME = re.compile(r"(gen_ai|server|error)\.[a-z_.]+")  # an attribute name, not prose about one


def _constants(module) -> dict[str, str]:
    return {k: v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)}


def test_every_standard_name_is_a_constant_of_the_semantic_conventions_package():
    published = {
        value
        for module in (gen_ai_attributes, server_attributes, error_attributes)
        for value in _constants(module).values()
    }
    ours = _constants(trace_names)
    standard = {name: value for name, value in ours.items() if value.startswith(STANDARD)}
    assert len(standard) >= 20  # it read the names: operation, models, tokens, tools, server
    assert set(standard.values()) <= published
    assert standard["OPERATION"] == gen_ai_attributes.GEN_AI_OPERATION_NAME
    assert standard["INPUT_TOKENS"] == gen_ai_attributes.GEN_AI_USAGE_INPUT_TOKENS
    assert standard["SERVER_ADDRESS"] == server_attributes.SERVER_ADDRESS


def test_the_operation_names_are_the_packages_values():
    operations = {v.value for v in gen_ai_attributes.GenAiOperationNameValues}
    names = {trace_names.INVOKE_AGENT, trace_names.CHAT, trace_names.EXECUTE_TOOL}
    assert names <= operations


def test_no_telemetry_module_types_a_standard_name_and_ours_are_under_onloop():
    typed = []
    for path in sorted(TELEMETRY.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if NAME.fullmatch(node.value):
                    typed.append(f"{path.name}: {node.value!r}")
    assert typed == []
    own = [
        value
        for name, value in _constants(trace_names).items()
        if "." in value and not value.startswith(STANDARD)
    ]
    assert own and all(value.startswith("onloop.") for value in own)
