"""Flags of a command in one spelling: `rm -fR` = `rm -r -f` = `rm --recursive --force`.

Combined short flags are split (`-fR` -> `-f -R`), then each flag goes through its program's
alias table (long options, and GNU's unique prefixes of them such as `--recur`, become the short
flag; `-R` becomes `-r` where the two mean the same). Flags anywhere before `--` count, since GNU
tools accept options after operands (`rm x -r`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RECURSIVE = {"-R": "-r", "--recursive": "-r"}
_FORCE = {"--force": "-f"}
_VERBOSE = {"--verbose": "-v"}

ALIASES: dict[str, dict[str, str]] = {
    "rm": {
        **_RECURSIVE,
        **_FORCE,
        **_VERBOSE,
        "--dir": "-d",
        "--interactive": "-i",
        "--one-file-system": "--one-file-system",
        "--no-preserve-root": "--no-preserve-root",
        "--preserve-root": "--preserve-root",
    },
    "cp": {
        **_RECURSIVE,
        **_FORCE,
        **_VERBOSE,
        "--archive": "-a",
        "--link": "-l",
        "--symbolic-link": "-s",
        "--no-clobber": "-n",
        "--update": "-u",
        "--dereference": "-L",
        "--no-dereference": "-P",
        "--target-directory": "-t",
    },
    "mv": {
        **_FORCE,
        **_VERBOSE,
        "--no-clobber": "-n",
        "--update": "-u",
        "--target-directory": "-t",
    },
    "ln": {**_FORCE, **_VERBOSE, "--symbolic": "-s", "--target-directory": "-t"},
    "rmdir": {**_VERBOSE, "--parents": "-p"},
    "mkdir": {**_VERBOSE, "--parents": "-p", "--mode": "-m"},
    "chmod": {"--recursive": "-R", **_VERBOSE},
    "chown": {"--recursive": "-R", **_VERBOSE},
    "chgrp": {"--recursive": "-R", **_VERBOSE},
    "ls": {"--all": "-a", "--almost-all": "-A", "--recursive": "-R", "--human-readable": "-h"},
    "grep": {
        "--recursive": "-r",
        "--dereference-recursive": "-R",
        "--ignore-case": "-i",
        "--files-with-matches": "-l",
        "--regexp": "-e",
        "--file": "-f",
    },
    "shred": {**_FORCE, **_VERBOSE, "--remove": "-u", "--zero": "-z", "--iterations": "-n"},
    "rsync": {
        **_RECURSIVE,
        **_VERBOSE,
        "--archive": "-a",
        "--del": "--delete",
        **{f"--delete-{when}": "--delete" for when in ("before", "during", "delay", "after")},
        "--delete-excluded": "--delete",
        "--remove-source-files": "--remove-source-files",
    },
    "scp": {},
    "tar": {"--extract": "-x", "--create": "-c", "--file": "-f", "--directory": "-C"},
    "curl": {"--output": "-o", "--remote-name": "-O", "--upload-file": "-T", "--data": "-d"},
    "wget": {"--output-document": "-O"},
    "git": {**_FORCE, "--recursive": "-r"},
    "sed": {"--in-place": "-i", "--expression": "-e"},
}
# Programs whose single-dash words are whole options (`find -delete`), never combined letters.
WHOLE_WORD_OPTIONS = frozenset({"find"})
_SHORT_CLUSTER = re.compile(r"^-[A-Za-z0-9]{2,}$")


@dataclass(frozen=True)
class Flags:
    flags: frozenset[str]
    operands: tuple[str, ...]  # everything that is not a flag, in order
    values: tuple[str, ...]  # values given as --option=value


def read_flags(program: str, arguments: list[str]) -> Flags:
    """The program's flags in one spelling, its operands and its `--option=value` values."""
    flags: set[str] = set()
    operands: list[str] = []
    values: list[str] = []
    options_done = False
    for word in arguments:
        if options_done or word == "-" or not word.startswith("-"):
            operands.append(word)
        elif word == "--":
            options_done = True
        elif word.startswith("--"):
            name, equals, value = word.partition("=")
            flags.add(normalise_flag(program, name))
            if equals:
                values.append(value)
        elif program in WHOLE_WORD_OPTIONS or not _SHORT_CLUSTER.match(word):
            flags.add(normalise_flag(program, word))
        else:
            flags.update(normalise_flag(program, f"-{letter}") for letter in word[1:])
    return Flags(frozenset(flags), tuple(operands), tuple(values))


def normalise_flag(program: str, flag: str) -> str:
    table = ALIASES.get(program, {})
    if flag in table:
        return table[flag]
    if flag.startswith("--") and len(flag) > 3:
        # GNU getopt_long accepts any unambiguous prefix of a long option.
        meanings = {v for k, v in table.items() if k.startswith("--") and k.startswith(flag)}
        if len(meanings) == 1:
            return meanings.pop()
    return flag
