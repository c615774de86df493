"""Errors a tool raises; every message goes back to the model, so it says what to do instead."""

from __future__ import annotations


class ToolError(Exception):
    """A tool could not do what was asked; the message is shown to the model as is."""


class ToolArgumentError(ToolError):
    """The arguments do not match the tool's schema."""


class WorkspaceEscape(ToolError):
    """A path points outside the run's workspace."""


class OwnFileRefused(ToolError):
    """A write would touch one of onloop's own files (policy, sign-in file, store...)."""


class ToolCancelled(ToolError):
    """A halt (or the worker stopping) reached the call; nothing more of it happens."""

    def __init__(self, message: str = "stopped by a halt before it finished") -> None:
        super().__init__(message)
