"""MCP tools as ordinary Tools: one conversion point for names, risk, argument checks and results."""

from __future__ import annotations

import re
from typing import Any

from mcp import types

from agent_core.tools.mcp_config import PREFIX, McpServerSettings
from agent_core.tools.validate import schema_validator

__all__ = ["mcp_tool_name", "result_text", "risk_of", "schema_validator"]

MAX_OUTPUT_CHARS = 50_000
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def mcp_tool_name(server: str, tool: str) -> str:
    """The name the model sees: `mcp__<server>__<tool>`, in the characters OpenAI accepts."""
    return (PREFIX + server + "__" + _UNSAFE.sub("_", tool))[:64]


def risk_of(settings: McpServerSettings, tool: types.Tool) -> tuple[str, str]:
    """The tool's risk and where it came from: the config wins; annotations are only hints."""
    if tool.name in settings.tool_risk:
        return settings.tool_risk[tool.name], "config (tool_risk)"
    if settings.risk is not None:
        return settings.risk, "config (risk)"
    notes = tool.annotations
    if notes is not None and notes.read_only_hint is True:
        return "low", "annotations (readOnlyHint)"
    if notes is not None and notes.destructive_hint is True:
        return "high", "annotations (destructiveHint)"
    return "medium", "default (no annotations)"


def result_text(result: Any) -> tuple[str, bool]:
    """A call's content blocks as text, and whether the server said it is an error."""
    if not isinstance(result, types.CallToolResult):
        return "the server did not finish this call (it asked for more input)", True
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.EmbeddedResource) and isinstance(
            block.resource, types.TextResourceContents
        ):
            parts.append(block.resource.text)
        elif isinstance(block, types.ResourceLink):
            parts.append(f"[resource {block.uri}]")
        else:
            parts.append(f"[{block.type} content omitted]")
    if not parts and result.structured_content is not None:
        parts.append(str(result.structured_content))
    text = "\n".join(parts)
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n[... cut at {MAX_OUTPUT_CHARS} characters]"
    return text, bool(result.is_error)
