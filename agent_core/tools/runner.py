"""Run one tool call: validate the arguments, inject the workspace, turn failures into ToolError."""

from __future__ import annotations

from agent_core.tools.decorator import WORKSPACE_PARAMETER, Tool
from agent_core.tools.errors import ToolError
from agent_core.tools.workspace import Workspace

MAX_ERROR_CHARS = 500


def run_tool(tool: Tool, arguments: dict, *, workspace: Workspace) -> str:
    """The tool's output text; ToolError (its message meant for the model) when it fails."""
    kwargs = tool.validate(arguments)
    if tool.wants_workspace:
        kwargs[WORKSPACE_PARAMETER] = workspace
    try:
        output = tool.fn(**kwargs)
    except ToolError as exc:
        raise type(exc)(workspace.scrub(str(exc))) from exc
    except Exception as exc:  # a tool's bug or an OS error: the model gets one line, not a trace
        raise ToolError(f"{tool.name} failed: {_one_line(exc, workspace)}") from exc
    return output if isinstance(output, str) else str(output)


def _one_line(exc: Exception, workspace: Workspace) -> str:
    text = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(workspace.scrub(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."
