"""The `[monitors]` table of a policy: thresholds of the drift monitors and what a poll looks like."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent_core.oversight.polling import DEFAULT_POLL_COMMANDS, DEFAULT_POLL_TOOLS


class MonitorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repeat_same_call: int = Field(default=4, ge=2)
    alternating_window: int = Field(default=6, ge=4)
    repeat_same_error: int = Field(default=3, ge=2)
    repeat_same_message: int = Field(default=3, ge=2)
    # Calls in a row that bring nothing new (no unseen output, no new file contents).
    no_progress: int = Field(default=8, ge=3)
    # Polls in a row that say "still on its way" with nothing new, however long between them.
    poll_patience: int = Field(default=10, ge=2)
    poll_tools: list[str] = Field(default_factory=lambda: list(DEFAULT_POLL_TOOLS))
    poll_commands: list[str] = Field(default_factory=lambda: list(DEFAULT_POLL_COMMANDS))
    # Calls the monitors look back over (cycles of period up to 8 need 16).
    window: int = Field(default=20, ge=8, le=200)
    # With a real model: steps between progress checks; 0 = off. The demo and scripted models
    # are never judged.
    judge_every: int = Field(default=5, ge=0)
    judge_threshold: float = Field(default=0.3, ge=0, le=1)
    # With a real model, a run that claims its goal met gets one more call that checks it.
    final_check: bool = False
    action: Literal["pause", "halt"] = "pause"

    @field_validator("poll_commands")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"poll command pattern {pattern!r} is not a valid regex: {exc}; fix it or "
                    "remove it from [monitors] poll_commands"
                ) from exc
        return patterns

    @model_validator(mode="after")
    def _window_holds_the_thresholds(self) -> MonitorSettings:
        needed = {
            "repeat_same_call": self.repeat_same_call,
            "repeat_same_error": self.repeat_same_error,
            "no_progress": self.no_progress,
            "poll_patience": self.poll_patience,
            # a cycle of period 3 goes alternating_window // 2 rounds
            "alternating_window // 2 * 3": self.alternating_window // 2 * 3,
        }
        name, value = max(needed.items(), key=lambda item: item[1])
        if value > self.window:
            raise ValueError(
                f"window ({self.window}) must be at least {name} ({value}): the monitors only "
                f"look back over the window; raise window to {value} or lower "
                f"{name.split()[0]}"
            )
        return self
