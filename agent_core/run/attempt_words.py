"""Whether the model's next step addresses a command that exited badly: its words speak of the
failure (`grep` exits 1 for "no match", and the model says so), or its calls act on it (look into
it with a read or a listing, try the shell again, touch a file the command or its output named).
A failure followed only by unrelated writes, or by the claim itself, is not addressed."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from agent_core.run.call_effects import Effects

# Words with which a model speaks of a failure, or of why an exit status is what was expected.
_SPEAKS_OF_IT = re.compile(
    r"\b(exit(ed|s)?|fail\w*|errors?|non-?zero|status|no match\w*|not found|no such|nothing|none|"
    r"missing|expected|because|means|already|instead|retry\w*|again|broken|wrong|differ\w*|"
    r"empty|zero|(there|it) (is|are|was|were) no|found no|no (results?|occurrences?|lines?|"
    r"output|files?|todos?|changes?|differences?)|(did|does|could|can|is|was|were|are)(n't| not)|"
    r"cannot)\b",
    re.I,
)
# Calls that look into a failure, or try again another way, whatever they name.
_LOOKING = frozenset({"read_file", "list_files"})
_FILE_WORD = re.compile(r"[\w./-]*[\w-]\.[A-Za-z][A-Za-z0-9]{0,7}\b")


def addressed(
    effects: Effects, output: str, text: str, calls: list[tuple[str, dict[str, Any]]]
) -> bool:
    command = effects.command or ""
    program = command.split()[0] if command.split() else ""
    if _SPEAKS_OF_IT.search(text or "") or (len(program) > 2 and program in (text or "")):
        return True
    named = {posixpath.basename(w) for w in _FILE_WORD.findall(f"{command}\n{output}")}
    for name, arguments in calls:
        if name in _LOOKING or isinstance(arguments.get("command"), str):
            return True  # it looks into the failure, or tries the shell again
        values = [v for value in arguments.values() for v in _strings(value)]
        if any(posixpath.basename(v.strip()) in named for v in values if len(v) < 300):
            return True
    return False


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def quoted(text: str, limit: int = 160) -> str:
    """Model or tool text inside a reason: one line, cut to `limit` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
