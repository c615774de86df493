"""Run one tool call: validate the arguments, inject the workspace and context, turn failures into
ToolError, and redact secrets from what goes back to the model. The call runs on a tool thread
(tool_threads) so that a halt never waits for a tool that ignores it."""

from __future__ import annotations

from agent_core.oversight.redact import redactor_for
from agent_core.tools.context import CONTEXT_PARAMETER, ToolContext, calling
from agent_core.tools.decorator import WORKSPACE_PARAMETER, Tool
from agent_core.tools.errors import ToolError
from agent_core.tools.own_processes import CallProcesses
from agent_core.tools.tool_threads import call_stoppably
from agent_core.tools.workspace import Workspace

MAX_ERROR_CHARS = 500


def run_tool(
    tool: Tool, arguments: dict, *, workspace: Workspace, context: ToolContext | None = None
) -> str:
    """The tool's output text; ToolError (its message meant for the model) when it fails.
    Both are redacted (the worker's environment's secrets when no context says otherwise)."""
    context = context or ToolContext(redact=redactor_for())
    kwargs = tool.validate(arguments)
    if tool.wants_workspace:
        kwargs[WORKSPACE_PARAMETER] = workspace
    if tool.wants_context:
        kwargs[CONTEXT_PARAMETER] = context

    try:
        output = _called(tool, kwargs, context)
    except ToolError as exc:
        raise type(exc)(context.redact(workspace.scrub(str(exc)))) from exc
    except Exception as exc:  # a tool's bug or an OS error: the model gets one line, not a trace
        raise ToolError(context.redact(f"{tool.name} failed: {_one_line(exc, workspace)}")) from exc
    return context.redact(output if isinstance(output, str) else str(output))


def _called(tool: Tool, kwargs: dict, context: ToolContext) -> object:
    """The tool's return value, from a tool thread. A call of the user's own tool: the processes
    it starts end with it (own_processes). Built-ins (the shell ends its own) and MCP tools (their
    server is shared) are left alone, and pay nothing for it."""

    def work() -> object:
        with calling(context):
            return tool.fn(**kwargs)

    if not tool.users_own:
        return call_stoppably(work, context.cancel)
    processes = CallProcesses()

    def own_work() -> object:
        with processes.marking():
            return work()

    try:
        return call_stoppably(own_work, context.cancel, processes.terminate)
    finally:
        processes.end()


def _one_line(exc: Exception, workspace: Workspace) -> str:
    text = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(workspace.scrub(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."
