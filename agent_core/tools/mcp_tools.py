"""MCP tools as ordinary Tools: one conversion point for names, risk, argument checks and results."""

from __future__ import annotations

import json
import re
from typing import Any

from mcp import types

from agent_core.tools.mcp_config import PREFIX, McpServerSettings
from agent_core.tools.validate import schema_validator
from storage.vocabulary import Risk

__all__ = ["mcp_tool_name", "result_text", "risk_of", "schema_validator", "server_claim"]

MAX_OUTPUT_CHARS = 50_000
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_SPACES = re.compile(r"[ \t\r\n]+")  # a description's line breaks read as spaces in one line
CLAIM_CHARS = 240  # of the description, in an approval line


def mcp_tool_name(server: str, tool: str) -> str:
    """The name the model sees: `mcp__<server>__<tool>`, in the characters OpenAI accepts."""
    return (PREFIX + server + "__" + _UNSAFE.sub("_", tool))[:64]


def risk_of(settings: McpServerSettings, tool: types.Tool) -> tuple[Risk, str]:
    """The tool's risk and where it came from. The operator's config wins; otherwise annotations,
    which are the server's word: an untrusted server's may raise the risk, never lower it below
    medium. Declared both read-only and destructive, a tool is taken at the higher."""
    if tool.name in settings.tool_risk:
        return settings.tool_risk[tool.name], "config (tool_risk)"
    if settings.risk is not None:
        return settings.risk, "config (risk)"
    notes = tool.annotations
    read_only = notes is not None and notes.read_only_hint is True
    if notes is not None and notes.destructive_hint is True:
        over = ", over readOnlyHint" if read_only else ""
        return Risk.HIGH, f"annotations (destructiveHint{over})"
    if read_only and settings.trusted:
        return Risk.LOW, "annotations (readOnlyHint, trusted server)"
    if read_only:
        return Risk.MEDIUM, "untrusted server: its readOnlyHint cannot lower the risk below medium"
    if notes is None:
        return Risk.MEDIUM, "default (no annotations)"
    return Risk.MEDIUM, "default (no readOnlyHint or destructiveHint)"


def server_claim(settings: McpServerSettings, tool: types.Tool) -> str:
    """What the server says of its tool, labelled as its claim, one line: the approver reads it
    as the server's word, not as fact. (Surfaces still pass it through inert text.)"""
    trust = "trusted" if settings.trusted else "untrusted"
    said = _one_line(tool.description or "", CLAIM_CHARS)
    parts = [f'title "{_one_line(tool.title, 80)}"'] if tool.title else []
    notes = tool.annotations
    if notes is not None:
        for field, value in notes.model_dump(by_alias=True, exclude_none=True).items():
            shown = json.dumps(value) if not isinstance(value, str) else f'"{_one_line(value, 80)}"'
            parts.append(f"{field}={shown}")
    declared = f" ({', '.join(parts)})" if parts else ""
    return f'MCP server {settings.name} ({trust}) says: "{said}"{declared}'


def _one_line(text: str, limit: int) -> str:
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
