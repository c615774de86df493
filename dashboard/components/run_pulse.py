"""A run's pulse (status, last seq), shared by every open page of this dashboard process.

Ten pages watching one run each ask every half second whether it moved; the answer is read from
the store at most once per PULSE_TTL and handed to all of them, so an idle page costs the server
a dictionary look-up, and ten idle pages on one run cost one primary-key read per PULSE_TTL.
"""

from __future__ import annotations

import threading
import time

from storage import Store
from storage.feed import RunPulse, run_pulse

PULSE_TTL = 0.25  # seconds; well under the page's refresh, so a step still shows within a second
MAX_RUNS = 1000  # pulses kept; the oldest half is dropped past this

_pulses: dict[tuple[str, str], tuple[float, RunPulse | None]] = {}
_lock = threading.Lock()


def fresh_pulse(store: Store, run_id: str) -> tuple[RunPulse | None, float]:
    """Read the pulse now; returns it with the monotonic time the read started, and shares it."""
    read_at = time.monotonic()  # taken before the read: the answer is at least this new
    pulse = run_pulse(store, run_id=run_id)
    with _lock:
        key = (store.url, run_id)
        if key not in _pulses or _pulses[key][0] < read_at:
            _pulses[key] = (read_at, pulse)
        if len(_pulses) > MAX_RUNS:
            for old in sorted(_pulses, key=lambda k: _pulses[k][0])[: MAX_RUNS // 2]:
                del _pulses[old]
    return pulse, read_at


def shared_pulse(store: Store, run_id: str, *, not_before: float) -> RunPulse | None:
    """The run's pulse as read at most PULSE_TTL ago, and never older than `not_before` (the
    moment the caller last drew the page, so it never sees the run go back in time)."""
    with _lock:
        hit = _pulses.get((store.url, run_id))
    if hit is not None and hit[0] >= not_before and time.monotonic() - hit[0] < PULSE_TTL:
        return hit[1]
    return fresh_pulse(store, run_id)[0]
