"""The checks a run's recent observations are put to after every tool call.

Each looks only at the last `window` observations (a bounded deque), so a check costs the same at
step 10 and at step 2,000. An observation's `key` is what came of the call, not how it was asked:
the file contents it left, the error's signature, or the normalised result. Two wordings of the
same stuck loop therefore give the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_CYCLE = 8  # the longest period a cycle is looked for at
LONG_CYCLE_ROUNDS = 2  # rounds a cycle of period 4 or more must go before it counts


@dataclass(frozen=True)
class Trip:
    monitor: str
    detail: str


@dataclass(frozen=True, slots=True)
class Observation:
    """One finished call: what it was, what came of it, and whether that was news."""

    tool: str
    call: str  # the call as text, for details
    key: str  # tool and outcome: the state it left, the error signature, or the result
    error: str  # the error's signature; "" when the call worked
    novel: bool  # brought something new: output, file contents, an action not taken before
    waiting: bool  # a poll still on its way, or an error retried with a rising attempt count
    wrote: bool  # left a file with content it never had
    fixed: bool  # ... and, for a code file, code it never had: a comment reworded is no fix
    said: str  # the output's first line, for details


def _said(step: Observation) -> str:
    return step.said[:160] or "(no output)"


def repetition(steps: Sequence[Observation], n: int) -> Trip | None:
    """The same tool with the same outcome n times in a row, nothing new after the first."""
    if len(steps) < n:
        return None
    tail = steps[-n:]
    first = tail[0]
    if any(s.key != first.key for s in tail) or any(s.novel for s in tail[1:]):
        return None
    if all(s.waiting for s in tail[1:]):
        return None  # still on its way: the polling check's to judge
    same = all(s.call == first.call for s in tail)
    what = first.call[:200] if same else f"{first.tool} (with different arguments)"
    return Trip(
        "repetition", f"called {what} {n} times in a row with the same result: {_said(tail[-1])}"
    )


def polling(steps: Sequence[Observation], patience: int) -> Trip | None:
    """Polls that keep saying "still on its way" with nothing new, `patience` times in a row."""
    count = 0
    for step in reversed(steps):
        if not step.waiting or step.novel:
            break
        count += 1
    if count < patience:
        return None
    last = steps[-1]
    return Trip(
        "polling",
        f"polled {last.tool} {count} times in a row and it is still waiting, with nothing new: "
        f"{_said(last)}",
    )


def cycle(steps: Sequence[Observation], short_rounds: int) -> Trip | None:
    """A cycle of period 2 to 8 whose calls come back with the same outcomes: periods 2 and 3
    after `short_rounds` rounds, longer ones after two."""
    for period in range(2, MAX_CYCLE + 1):
        rounds = short_rounds if period <= 3 else LONG_CYCLE_ROUNDS
        span = period * rounds
        if span > len(steps):
            continue
        tail = steps[-span:]
        pattern = [s.key for s in tail[:period]]
        if len(set(pattern)) < 2 or any(s.key != pattern[i % period] for i, s in enumerate(tail)):
            continue
        if all(s.waiting for s in tail[period:]):
            continue  # polls still on their way, in turn: the polling check's to judge
        names = " → ".join(s.call[:80] for s in tail[:period])
        return Trip("alternation", f"cycled {rounds} times through {names} with the same results")
    return None


def same_error(steps: Sequence[Observation], n: int) -> Trip | None:
    """The same error (by signature) n times since the workspace last reached new contents,
    back to back or not; a code file's new comments or layout are not new contents here (the
    same failing test re-run after cosmetic edits)."""
    if not steps or not steps[-1].error or steps[-1].waiting:
        return None
    last = steps[-1]
    count = seen = 0
    for step in reversed(steps):
        if step.fixed:
            break
        seen += 1
        count += step.error == last.error and not step.waiting
    if count < n:
        return None
    where = "in a row" if count == seen else f"within the last {seen} calls"
    return Trip("same_error", f"the same error {count} times {where}: {_said(last)}")


def no_progress(steps: Sequence[Observation], n: int) -> Trip | None:
    """n calls in a row that brought nothing new (polls still waiting neither count nor break
    the run of them)."""
    count = 0
    for step in reversed(steps):
        if step.novel:
            break
        count += not step.waiting
    if count < n:
        return None
    last = steps[-1]
    return Trip(
        "no_progress",
        f"{count} calls in a row brought nothing new (no output not seen before, no new file "
        f"contents); the last: {last.call[:120]} → {_said(last)}",
    )
