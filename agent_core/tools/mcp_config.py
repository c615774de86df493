"""How the policy file names an MCP server: `[[mcp_servers]]` with a command (stdio) or a URL."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from storage.vocabulary import Risk

ENV_PREFIX = "env:"
PREFIX = "mcp__"  # MCP tools are named mcp__<server>__<tool>


class McpServerSettings(BaseModel):
    """One MCP server whose tools runs may use, as `mcp__<name>__<tool>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,20}$")  # no "_": the tool names stay unambiguous
    command: list[str] | None = None  # stdio: the program and its arguments
    url: str | None = None  # streamable HTTP
    headers: dict[str, str] = Field(default_factory=dict)  # values may be "env:NAME"
    env: dict[str, str] = Field(default_factory=dict)  # for stdio servers; values may be "env:NAME"
    # stdio servers run in the sandbox (bubblewrap) where it is available, unless sandbox = false:
    sandbox: bool = True
    paths: list[str] = Field(default_factory=list)  # folders bound read-write inside; none else
    network: bool = False  # a sandboxed server has no network unless this says so
    # Whether its annotations may LOWER a tool's risk: an untrusted server's can only raise it
    # (readOnlyHint leaves it medium). A real boolean: the one key that lowers asks.
    trusted: StrictBool = False
    risk: Risk | None = None  # every tool of this server, whatever its annotations say
    tool_risk: dict[str, Risk] = Field(default_factory=dict)  # per tool (its MCP name)
    timeout_s: float = Field(default=60, gt=0)  # per call
    start_timeout_s: float = Field(default=60, gt=0)  # to start and list its tools

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name!r}: give either command = [...] or url = ...")
        if self.command is not None and not self.command:
            raise ValueError(f"MCP server {self.name!r}: command is empty")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"MCP server {self.name!r}: url must start with http:// or https://")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"

    def where(self) -> str:
        return " ".join(self.command) if self.command is not None else str(self.url)


def resolve_env_values(values: dict[str, str], *, server: str) -> dict[str, str]:
    """Values with "env:NAME" read from the worker's environment (a missing one is an error)."""
    resolved = {}
    for key, value in values.items():
        if value.startswith(ENV_PREFIX):
            name = value[len(ENV_PREFIX) :]
            if name not in os.environ:
                raise RuntimeError(
                    f"MCP server {server!r}: {key} names ${name}, which is not set for the worker"
                )
            value = os.environ[name]
        resolved[key] = value
    return resolved
