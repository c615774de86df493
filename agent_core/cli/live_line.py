"""The one updating line on stderr that shows a streaming turn while `onloop run` follows it."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

from agent_core.cli.terminal_text import columns
from agent_core.oversight import inert

LIVE_EVERY_S = 0.25  # redraws a second, at most four
PREFIX = "  … "
CLEAR = "\r\x1b[K"  # back to the line's start, erase it


def live_line(text: str, width: int) -> str:
    """The end of the partial output that fits one terminal line of `width` columns.

    Newlines and runs of spaces become one space; control and format characters (terminal
    escapes, bidirectional controls) are shown as escapes, so model output cannot move the cursor;
    wide characters count two columns, so the line never wraps.
    """
    flat = " ".join(inert.visible(text).split())
    room = max(width - len(PREFIX) - 1, 10)  # one column spare: a full line would wrap
    if sum(map(columns, flat)) <= room:
        return PREFIX + flat
    # Counted in columns, not characters: a wider line wraps, and the erase before each redraw
    # clears only its last row, so every redraw would leave a row of the model's text behind.
    kept, used = [], 1  # the "…" in front
    for char in reversed(flat):
        used += columns(char)
        if used > room:
            break
        kept.append(char)
    return PREFIX + "…" + "".join(reversed(kept))


class LiveLine:
    """Draws, redraws and erases the live line; does nothing unless `stream` is a terminal."""

    def __init__(
        self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.drawn = ""
        self.drawn_at = float("-inf")

    def show(self, text: str) -> None:
        if not self.enabled or not text:
            return
        now = self.clock()
        if now - self.drawn_at < LIVE_EVERY_S:
            return
        line = live_line(text, shutil.get_terminal_size((80, 24)).columns)
        if line != self.drawn:
            self.stream.write(CLEAR + line)
            self.stream.flush()
            self.drawn, self.drawn_at = line, now

    def clear(self) -> None:
        """Erase the line (before any other output, and when the turn is recorded)."""
        if self.drawn:
            self.stream.write(CLEAR)
            self.stream.flush()
            self.drawn = ""
            self.drawn_at = float("-inf")
