"""What a tool call does, as a class (storage.vocabulary.CallClass), and why it is that class.

The policy decides a part of a call (a path it touches, a program its shell command runs) by its
rules first; a part no rule matches gets the verdict of its class under the run's autonomy (the
policy's `[classes]` table), and a part that could not be classified falls back to the tool's
risk. A call's class is the riskiest of its parts' classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent_core.oversight.targets import Part
from agent_core.tools.workspace import Workspace
from storage.vocabulary import CLASS_RANK, CallClass


@dataclass(frozen=True)
class Classified:
    """A part's (or a call's) class, and the reason in a few plain words ("`git status` only
    reads"); `call_class` None: not classified, the tool's risk decides."""

    call_class: CallClass | None
    why: str = ""


UNCLASSIFIED = Classified(None, "")


def classify_part(
    tool: str,
    risk: str,
    arguments: dict[str, Any],
    part: Part,
    workspace: Workspace | None = None,
) -> Classified:
    """The class of one part of a call of `tool` (declared `risk`) with `arguments`."""
    return UNCLASSIFIED  # (interface: the classifier fills this in)


def severest(classified: Iterable[Classified]) -> Classified:
    """The riskiest of several classes; an unclassified part makes the whole call unclassified
    (its tool's risk decides) unless another part is already classified riskier than `write`."""
    items = list(classified)
    known = [c for c in items if c.call_class is not None]
    if not known:
        return UNCLASSIFIED
    worst = max(known, key=lambda c: CLASS_RANK[c.call_class])  # type: ignore[index]
    if len(known) < len(items) and CLASS_RANK[worst.call_class] <= CLASS_RANK[CallClass.WRITE]:  # type: ignore[index]
        return UNCLASSIFIED
    return worst
