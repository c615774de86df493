"""Command patterns of policy rules: `rm -r`, `git status`, `find -delete`, or `re:REGEX`.

The first word is a glob on the program (`/bin/rm` and `\\rm` are `rm`); words starting with `-`
are flags the command must have, in any spelling (`rm -r` matches `rm -fR`, `rm --recursive -f`,
`rm x -r`); other words are globs on its first operands, in order (`git push` matches
`git push -f origin`). `re:REGEX` searches the normalised command text (`rm -f -r x`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

from agent_core.oversight import user_regex
from agent_core.oversight.shell_commands import Invocation, program_name
from agent_core.oversight.shell_flags import read_flags


@dataclass(frozen=True)
class CommandPattern:
    program: str
    flags: frozenset[str]
    operands: tuple[str, ...]
    regex: str | None = None  # a person's: searched with a time limit (user_regex)

    def matches(self, invocation: Invocation) -> bool:
        if self.regex is not None:
            return user_regex.search(self.regex, invocation.text)
        if not fnmatchcase(invocation.program, self.program):
            return False
        if not self.flags <= invocation.flags:
            return False
        if len(self.operands) > len(invocation.operands):
            return False
        return all(
            fnmatchcase(o, p) for o, p in zip(invocation.operands, self.operands, strict=False)
        )


@lru_cache(maxsize=512)
def command_pattern(text: str) -> CommandPattern:
    """The pattern in `text`; ValueError (naming the fix) when it is empty or malformed."""
    if text.startswith("re:"):
        why = user_regex.problem(text[3:])
        if why is not None:
            raise ValueError(f"command pattern {text!r} is not a valid regex: {why}")
        return CommandPattern("*", frozenset(), (), text[3:])
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"command pattern {text!r} cannot be read: {exc}") from exc
    if not words:
        raise ValueError("a command pattern is empty; write the program first, e.g. 'rm -r'")
    program = program_name(words[0])
    read = read_flags(program, words[1:])
    return CommandPattern(program, read.flags, read.operands)
