"""onloop's public API for your own tools: `from onloop import tool`.

    from onloop import tool

    @tool(risk="medium")
    def shout(text: str) -> str:
        \"\"\"Say something loudly.

        Args:
            text: what to say.
        \"\"\"
        return text.upper()

List the module in the policy file (`tools = ["mypkg.tools"]`) or offer it through the
`onloop.tools` entry point group; workers and the dashboard load it alike.
"""

from agent_core.tools.context import ToolContext
from agent_core.tools.decorator import Tool, tool
from agent_core.tools.errors import ToolCancelled, ToolError
from agent_core.tools.workspace import Workspace

__all__ = ["Tool", "ToolCancelled", "ToolContext", "ToolError", "Workspace", "tool"]
