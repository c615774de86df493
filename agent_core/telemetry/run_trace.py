"""What a run session's port and worker call where spans start and end; this base is no trace
at all (NO_TRACE), what a session has when traces are off (agent_core/telemetry/traces.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RunTrace:
    """No trace: what a session has when traces are off."""

    traceparent: str | None = None  # this session's span, for the run_started event

    def saw(self, kind: str, payload: Mapping[str, Any]) -> None:
        """An event the port recorded (redacted as stored)."""

    def ended(self, status: str, reason: str | None) -> None:
        """The session ended this way (recorded): its spans end."""

    def close(self) -> None:
        """The session is over however it went: spans still open end."""


NO_TRACE = RunTrace()
