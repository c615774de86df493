"""What the run has observed lately, so a monitor can tell news from a rerun.

Each thing observed (a normalised output line, an error signature, an action's shape) is kept with
the step it was last seen at; it is news when it was not seen within the horizon. Output that
grows by lines already seen, a new call that returns what an earlier one did, an empty page past
the end of a file: none of these bring news. The memory is pruned as it goes, so each step costs
what its own output costs, however long the run has been going.
"""

from __future__ import annotations

from collections.abc import Iterable


class Memory:
    def __init__(self, horizon: int, cap: int = 50_000) -> None:
        self.horizon = horizon
        self.cap = cap
        self._seen: dict[int, int] = {}  # hash of the thing -> step it was last seen at
        self._pruned = 0  # the step the memory was last pruned at

    def news(self, things: Iterable[str], index: int) -> bool:
        """Remember `things` as seen at `index`; whether any was not seen within the horizon."""
        new = False
        seen = self._seen
        for thing in things:
            key = hash(thing)
            last = seen.get(key)
            if last is None or index - last > self.horizon:
                new = True
            seen[key] = index
        if index - self._pruned >= self.horizon or len(seen) > self.cap:
            self._prune(index)
        return new

    def _prune(self, index: int) -> None:
        """Forget what fell out of the horizon: once a horizon, so each step pays for its own
        things only, and whenever the memory outgrows its cap."""
        self._pruned = index
        keep = {k: v for k, v in self._seen.items() if index - v <= self.horizon}
        if len(keep) > self.cap // 2:  # a horizon's worth of distinct things: keep the newest
            keep = dict(sorted(keep.items(), key=lambda item: item[1])[-(self.cap // 2) :])
        self._seen = keep
