"""The process's environment as one cheap, comparable value: what a per-process cache of
something read from the environment keys on, so that a variable set or removed since gives a
new answer while an unchanged environment costs a tuple of its raw pairs (no decoding, no sort)."""

from __future__ import annotations

import os


def environment_now() -> tuple:
    """os.environ's raw pairs now (bytes on POSIX), to be compared whole."""
    raw = getattr(os.environ, "_data", None)
    return tuple(raw.items()) if isinstance(raw, dict) else tuple(os.environ.items())
