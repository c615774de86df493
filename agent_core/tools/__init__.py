"""Tools an agent can call: the @tool decorator, the built-ins and the workspace they stay in."""

from agent_core.tools.builtins import builtin_tools
from agent_core.tools.canonical import args_hash, canonical_json
from agent_core.tools.context import ToolContext
from agent_core.tools.decorator import ArgumentKinds, Tool, tool
from agent_core.tools.errors import ToolArgumentError, ToolCancelled, ToolError, WorkspaceEscape
from agent_core.tools.validate import parse_arguments
from agent_core.tools.workspace import Workspace
from storage.vocabulary import Risk

__all__ = [
    "ArgumentKinds",
    "Risk",
    "Tool",
    "ToolArgumentError",
    "ToolContext",
    "ToolError",
    "ToolCancelled",
    "Workspace",
    "WorkspaceEscape",
    "args_hash",
    "builtin_tools",
    "canonical_json",
    "parse_arguments",
    "tool",
]
