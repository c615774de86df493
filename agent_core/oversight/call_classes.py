"""What a tool call does, as a class (storage.vocabulary.CallClass), and why it is that class.

The policy decides a part of a call (a path it touches, a program its shell command runs) by its
rules first; a part no rule matches gets the verdict of its class under the run's autonomy (the
policy's `[classes]` table), and a part that could not be classified falls back to the tool's
risk. A call's class is the riskiest of its parts' classes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent_core.oversight.git_classes import puts_back, writes_operands
from agent_core.oversight.guarded_files import guarded_file
from agent_core.oversight.program_classes import program_class
from agent_core.oversight.shell_commands import Invocation
from agent_core.oversight.targets import Part, PathTarget, redirected, replacement
from agent_core.oversight.weakened_tests import weakens
from agent_core.tools.workspace import Workspace
from storage.vocabulary import CLASS_RANK, CallClass

READ, WRITE, NETWORK = CallClass.READ, CallClass.WRITE, CallClass.NETWORK
INSTALL, GUARDED, DESTRUCTIVE = CallClass.INSTALL, CallClass.GUARDED, CallClass.DESTRUCTIVE
_READ_TOOLS = ("read_file", "list_files", "calculator", "current_time")
MIN_SHRUNK = 20  # characters a file must have for "replaced by less than half" to count
MAX_NAMED_DELETES = 3  # delete_files of more files at once is destructive
MAX_COMPARED = 512 * 1024  # bytes of an existing file compared with its rewrite
_URL = re.compile(r"^(https?|ftp|wss?)://", re.IGNORECASE)


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
    if part.invocation is not None:
        return _shell_part(part.invocation, part.path, workspace)
    if part.path is not None and part.path.argument is None:  # `{ ...; } > file` in a shell line
        return _written(part.path, Classified(WRITE, "the command line writes this file"))
    if tool in _READ_TOOLS:
        return Classified(READ, f"`{tool}` only reads")
    if tool == "write_file" and part.path is not None:
        return _written(part.path, _write_file(part.path, arguments, workspace))
    if tool == "delete_files":
        return _deleting(arguments, part, workspace)
    if tool == "fetch_url" or (risk != "low" and _url_argument(arguments)):
        return Classified(NETWORK, f"`{tool}` sends a request to another host")
    if risk == "low":
        return Classified(READ, f"`{tool}` is declared low risk (it only reads)")
    return UNCLASSIFIED


def _shell_part(
    invocation: Invocation, path: PathTarget | None, workspace: Workspace | None
) -> Classified:
    found = program_class(invocation)
    classified = Classified(*found) if found is not None else UNCLASSIFIED
    if path is None:
        return classified
    into = redirected(invocation)
    if any(name in into for name in path.spellings) or _writes_to(invocation, path):
        written = classified
        if classified.call_class is None or CLASS_RANK[classified.call_class] < CLASS_RANK[WRITE]:
            written = Classified(WRITE, f"`{invocation.program}` writes {path.spellings[0]}")
        lost = _work_lost(invocation, path, workspace)
        if lost is not None and CLASS_RANK[written.call_class or WRITE] < CLASS_RANK[DESTRUCTIVE]:
            written = lost
        return _written(path, written)
    return classified


def _work_lost(
    invocation: Invocation, path: PathTarget, workspace: Workspace | None
) -> Classified | None:
    """Destructive when the command replaces an existing file of the workspace with another
    version (`git checkout FILE`, which discards its uncommitted changes) or with less than half
    of it (`: > FILE`, `echo x > FILE`, `cp /dev/null FILE`), as `write_file` would."""
    texts = ((n, _existing_text(n, workspace)) for n in path.every(True))  # and after a `cd`
    name, old = next(((n, t) for n, t in texts if t is not None), ("", None))
    if old is None:
        return None
    if invocation.program == "git":
        if not puts_back(invocation):
            return None
        return Classified(
            DESTRUCTIVE, f"`git` puts back {name}, discarding its uncommitted changes"
        )
    new = replacement(invocation, path.spellings, lambda n: _existing_text(n, workspace))
    return None if new is None else _shrunk(name, old, new, f"`{invocation.program}`")


def _writes_to(invocation: Invocation, path: PathTarget) -> bool:
    """Whether a program that changes files touches this path (git stages: not a write; it
    writes what `checkout`, `restore`, `mv` and `rm` name)."""
    found = program_class(invocation)
    if found is None:
        return False
    if invocation.program == "git":
        return writes_operands(invocation) and CLASS_RANK[found[0]] >= CLASS_RANK[WRITE]
    return CLASS_RANK[found[0]] >= CLASS_RANK[WRITE] and found[0] not in (NETWORK, INSTALL)


def _written(path: PathTarget, classified: Classified) -> Classified:
    """A write to a guarded file (.git/, CI, hooks, manifests) is its own class; each spelling
    counts, and each folder a `cd` earlier in the line may have made it relative to (`cd .git
    && echo x > config` writes .git/config)."""
    guarded = guarded_file(path.every(True))
    if guarded is None:
        return classified
    if (
        classified.call_class is not None
        and CLASS_RANK[classified.call_class] > CLASS_RANK[GUARDED]
    ):
        return classified
    return Classified(GUARDED, f"writes {path.spellings[0]}, {guarded}")


def _write_file(
    path: PathTarget, arguments: dict[str, Any], workspace: Workspace | None
) -> Classified:
    name = path.spellings[0]
    old = _existing_text(name, workspace)
    content = arguments.get("content")
    if isinstance(content, str):
        weaker = weakens(name, old, content)
        if weaker is not None:
            return Classified(GUARDED, weaker)
    if old is None:
        return Classified(WRITE, f"`write_file` creates {name} inside the workspace")
    new = content if isinstance(content, str) else ""
    shrunk = _shrunk(name, old, new, "`write_file`")
    return shrunk or Classified(WRITE, f"`write_file` edits {name} inside the workspace")


def _shrunk(name: str, old: str, new: str, how: str) -> Classified | None:
    """Destructive when `new` keeps less than half of a file's `old` text."""
    if len(old.strip()) >= MIN_SHRUNK and len(new.strip()) * 2 < len(old.strip()):
        return Classified(
            DESTRUCTIVE,
            f"{how} replaces {name} with less than half of it ({len(new)} of "
            f"{len(old)} characters): the rest would be lost",
        )
    return None


def _deleting(arguments: dict[str, Any], part: Part, workspace: Workspace | None) -> Classified:
    paths = arguments.get("paths")
    names = paths if isinstance(paths, list) else [paths]
    if part.path is not None:
        guarded = _written(part.path, UNCLASSIFIED)
        if guarded.call_class is not None:
            return Classified(DESTRUCTIVE, f"deletes {part.path.spellings[0]}: {guarded.why}")
        if _is_folder(part.path.spellings[0], workspace):
            return Classified(DESTRUCTIVE, f"deletes the folder {part.path.spellings[0]}")
    if len(names) > MAX_NAMED_DELETES:
        return Classified(DESTRUCTIVE, f"deletes {len(names)} files at once")
    return Classified(WRITE, "`delete_files` deletes named files of the workspace")


def _existing_text(name: str, workspace: Workspace | None) -> str | None:
    """The file's text now, or None when it does not exist (or cannot be read as text)."""
    if workspace is None:
        return None
    try:
        path = workspace.real_root / name
        if not path.is_file():
            return None
        return path.read_bytes()[:MAX_COMPARED].decode("utf-8", errors="replace")
    except OSError:
        return None


def _is_folder(name: str, workspace: Workspace | None) -> bool:
    if workspace is None:
        return name.endswith("/")
    try:
        return (workspace.real_root / name).is_dir()
    except OSError:
        return True


def _url_argument(arguments: dict[str, Any]) -> bool:
    return any(isinstance(v, str) and _URL.match(v.strip()) is not None for v in arguments.values())


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
