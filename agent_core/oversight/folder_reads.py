"""Which folders a program reads whole: `grep -r`, `tar c .`, `cp -r`, `git diff`, `find -exec`...

Such a program is treated as reading every file under the folder, so the rules on those files
(the secrets rule) hold for it as if it had named them. Over-reading is the safe side: a folder
that may be read is walked; what cannot be told asks.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_core.oversight.shell_commands import CODE_RUNNERS, Invocation, stdin_is_code

WALK_CAP = 5_000  # files looked at under the folders one call reads; past it the call asks
WHOLE = "."  # the workspace, or the folder a command runs in

_RECURSIVE_FLAGS = frozenset({"-r", "-R", "--recursive", "--dereference-recursive"})
_ARCHIVE_FLAG_PROGRAMS = frozenset({"cp", "rsync", "scp"})  # where -a means recursive too
_GREPS = frozenset({"grep", "egrep", "fgrep", "zgrep", "bzgrep", "xzgrep", "zipgrep"})
# Programs that read the folders they are given, recursively, whatever their flags.
_ALWAYS = frozenset(
    {
        "rg", "ripgrep", "ag", "ack", "ack-grep", "pt", "sift", "ugrep", "ug", "rgrep", "7z", "7za",
        "7zr", "pax",
        "rar", "jar", "mksquashfs", "genisoimage", "xorriso", "rclone", "unison",
        # moving or linking a folder gives every file in it a new, innocent-looking name
        "mv", "ln", "link", "install",
    }
)  # fmt: skip
# Programs that read the folders they are given when told to recurse (-r, -R, -a).
_WHEN_RECURSIVE = _GREPS | {"cp", "scp", "rsync", "diff", "zip", "gzip", "bzip2", "xz", "zstd"}
# Programs that read the current folder when they are given no folder that exists.
_DEFAULT_HERE = _GREPS | {
    "rg", "ripgrep", "ag", "ack", "ack-grep", "pt", "sift", "ugrep", "ug", "rgrep", "find",
}  # fmt: skip
_TARS = frozenset({"tar", "gtar", "bsdtar", "star"})
_FINDERS = frozenset({"fd", "fdfind"})  # `fd -x cat`: runs a program on every file it finds
# Options naming a file that lists the files to read (`tar -T list`, `sort --files0-from=list`).
_NAME_LIST_FLAGS = ("--files-from", "--files0-from", "--null-files-from")
# git subcommands that print, copy or pack file contents (of the work tree, index or history).
_GIT_READERS = frozenset(
    {
        "diff", "show", "archive", "cat-file", "grep", "format-patch", "fast-export", "bundle",
        "stash", "difftool", "range-diff", "whatchanged", "blame", "annotate", "clone", "add",
        "checkout-index", "bisect", "worktree",
    }
)  # fmt: skip
_GIT_WHOLE = frozenset({"stash", "clone", "bundle", "fast-export", "bisect", "worktree"})
# git subcommands that print contents only with a patch flag (names or hashes otherwise).
_GIT_LOGS = frozenset({"log", "reflog", "diff-tree", "diff-index", "diff-files"})
# Flags that make `git diff`/`git show` print names and counts only, never a line of a file.
_GIT_NAMES_ONLY = frozenset(
    {"--stat", "--name-only", "--name-status", "--numstat", "--shortstat", "--summary", "--quiet",
     "--dirstat", "--raw", "--no-patch", "-s"}
)  # fmt: skip
_GIT_VALUE_OPTIONS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})
_GIT_PATCH_FLAGS = ("-p", "-u", "--patch", "-U", "-L", "--word-diff", "--cc", "--ext-diff")
_INLINE_FLAGS = frozenset({"-c", "-e", "-E", "-r", "--eval", "--exec", "-n", "-p"})
# Inline code that lists folders, expands globs or runs other programs may reach any file.
_WALKING_CODE = re.compile(
    r"glob|walk|listdir|scandir|readdir|opendir|iterdir|\bfind\b|\bDir\b|\bls\b|"
    r"<[^<>\s]*\*[^<>\s]*>|system|popen|spawn|exec|subprocess|getline|\||`|\bqx\b"
)
# awk or sed code that runs programs: the programs cannot be read by the rules.
_RUNNING_CODE = re.compile(r"system|getline|\||(?<![A-Za-z])e(?![A-Za-z])")
# A tool whose name says it reads folders whole, by its words (snake, kebab or camel case): "tar"
# is a word of make_tar_gz, not of start_timer.
_WHOLE_READING_WORDS = frozenset(
    "archive unarchive bundle dump export concat concatenate diff tar untar tarball targz tgz "
    "bzip2 rg".split()
)
_WHOLE_READING_PAIRS = {
    "search": frozenset({"content", "contents", "text", "code"}),
    "git": frozenset({"show"}),
    "read": frozenset("dir dirs directory directories folder folders all tree recursive".split()),
}
_WHOLE_READING_JOINED = frozenset(
    first + second for first, seconds in _WHOLE_READING_PAIRS.items() for second in seconds
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CODE_PATH = re.compile(r"[\w.~/@+-]*[./][\w.~/@+-]*")


@dataclass(frozen=True)
class FolderReads:
    """The folders (as the command spells them) a program reads every file of, and why."""

    folders: tuple[str, ...] = ()
    how: str = ""  # "grep -r", "tar c", "git diff": named in the reason a rule gives
    here_by_default: bool = False  # no folder named that exists: it reads the current one


def inline_code(invocation: Invocation) -> tuple[str, ...]:
    """The program text an interpreter runs from its arguments (python -c, awk 'prog', sed)."""
    program, operands = invocation.program, invocation.operands
    if re.fullmatch(r"[gmn]?awk|sed", program):
        return operands[:1] if not invocation.flags & {"-f"} else ()
    if not CODE_RUNNERS.fullmatch(program):
        return ()
    code = [invocation.stdin] if invocation.stdin and stdin_is_code(program, operands) else []
    if program.startswith(("sqlite", "duckdb")):  # `sqlite3 db "select readfile('.env')"`
        return (*code, *operands[1:])
    inline = invocation.flags & _INLINE_FLAGS or any(
        f.startswith("--eval") for f in invocation.flags
    )
    return (*code, *operands[:1]) if inline else tuple(code)


def code_paths(code: str) -> list[str]:
    """Words in inline code that look like file names (`open('.env')`, `"keys/id_rsa"`)."""
    return [w for w in _CODE_PATH.findall(code) if w.strip("./")]


def code_doubt(invocation: Invocation) -> str | None:
    """Why awk or sed code cannot be fully read (it runs programs), if it cannot."""
    if not re.fullmatch(r"[gmn]?awk|sed", invocation.program):
        return None
    if any(_RUNNING_CODE.search(c) for c in inline_code(invocation)):
        return f"{invocation.program} code runs other programs, which rules cannot read"
    return None


def folder_reads(invocation: Invocation) -> FolderReads:
    """What `invocation` reads whole; nothing when it reads only the files it names."""
    program, flags, operands = invocation.program, invocation.flags, invocation.operands
    if program == "git":
        return _git(invocation)
    if any(f.startswith(_NAME_LIST_FLAGS) for f in flags) and program not in ("du", "wc"):
        return FolderReads((WHOLE,), f"{program} --files-from (it reads the files a list names)")
    if program in _TARS:
        return _tar(invocation)
    if program in _FINDERS and flags & {"-x", "-X", "--exec", "--exec-batch"}:
        return FolderReads((WHOLE,), f"{program} --exec")
    if program in ("cpio", "afio"):
        if flags & {"-o", "-p", "--create", "--pass-through"}:
            return FolderReads((WHOLE,), "cpio (it reads the files named on its input)")
        return FolderReads()
    if program == "find":
        acting = sorted(f for f in flags if f.startswith(("-exec", "-ok", "-fprint", "-fls")))
        return FolderReads(operands, f"find {acting[0]}", True) if acting else FolderReads()
    code = inline_code(invocation) if program != "sed" else ()
    if any(_WALKING_CODE.search(c) for c in code):
        return FolderReads((WHOLE,), f"{program} code that lists folders or runs programs")
    if program == "zip" and flags & {"-R", "-@", "--names-stdin"}:
        return FolderReads((WHOLE, *operands), "zip -R")
    long_recursive = ("--rec", "--deref") if program in _GREPS else ("--rec",)
    recursive = bool(flags & _RECURSIVE_FLAGS) or any(f.startswith(long_recursive) for f in flags)
    if program in _GREPS and (flags & {"-d"} or any(f.startswith("--di") for f in flags)):
        # `grep -d recurse`, `--directories=recurse`: the value may be an operand or glued on
        recursive = recursive or any(w.text.endswith("recurse") for w in invocation.paths)
    recursive = recursive or (program in _ARCHIVE_FLAG_PROGRAMS and "-a" in flags)
    if program in _ALWAYS or (program in _WHEN_RECURSIVE and recursive):
        label = program if program in _ALWAYS else f"{program} -r"
        return FolderReads(operands, label, program in _DEFAULT_HERE)
    return FolderReads()


def _tar(invocation: Invocation) -> FolderReads:
    """tar reads the folders it is given when it creates, appends to or updates an archive."""
    flags, operands = invocation.flags, invocation.operands
    writes = flags & {"-c", "-r", "-u", "-A", "--create", "--append", "--update"}
    if writes and "-T" in flags:  # names read from a file or from input
        return FolderReads((WHOLE,), "tar -T (it reads the files a list names)")
    if writes:
        return FolderReads(operands, "tar c")
    old_style = operands[0] if operands and re.fullmatch(r"[A-Za-z]+", operands[0]) else ""
    if set(old_style) & set("cru"):  # `tar czf out.tgz .`: the letters are the flags
        return FolderReads(operands[1:], "tar c")
    return FolderReads()


def _git(invocation: Invocation) -> FolderReads:
    """git commands that show or pack file contents read the whole work tree, or their pathspecs."""
    words = list(invocation.operands)
    # `git -C dir -c k=v diff`: the global options' values come first among the operands.
    skip = len(invocation.flags & _GIT_VALUE_OPTIONS)
    named = [i for i, w in enumerate(words[: skip + 1]) if w in _GIT_READERS or w in _GIT_LOGS]
    words = words[named[0] :] if named else words[skip:]
    sub = words[0] if words else ""
    patch = any(f.startswith(_GIT_PATCH_FLAGS) for f in invocation.flags)
    if sub not in _GIT_READERS and not (sub in _GIT_LOGS and patch):
        return FolderReads()
    if sub == "stash" and words[1:2] == ["list"] and not patch:
        return FolderReads()  # names of stashes, no contents
    if sub in ("diff", "show") and not patch and _GIT_NAMES_ONLY & invocation.flags:
        return FolderReads()  # file names and counts of changed lines, no contents
    rest = words[1:]
    # A pathspec narrows what git reads; without one (or with a pattern git expands) it reads all.
    magic = [p for p in rest if re.search(r"[*?\[]|^:", p)]
    if magic or sub in _GIT_WHOLE or {"-a", "--all", "-A", "-u", "--update"} & invocation.flags:
        return FolderReads((WHOLE,), f"git {sub}")
    return FolderReads(tuple(rest), f"git {sub}", here_by_default=True)


def reads_whole(tool: str, arguments: dict[str, Any]) -> bool:
    """Whether a (non-shell) tool call reads its folder arguments whole: a recursive flag, or a
    tool whose name says it searches contents or packs folders (an MCP grep, zip, archive)."""
    flagged = any(arguments.get(k) is True for k in ("recursive", "recurse", "recursively"))
    return flagged or _named_whole_reading(tool.rsplit("__", 1)[-1])


def _named_whole_reading(name: str) -> bool:
    words = [w for w in re.split(r"[^a-z0-9]+", _CAMEL.sub("_", name).lower()) if w]
    for index, word in enumerate(words):
        single = word[:-1] if word.endswith("s") and word[:-1] in _WHOLE_READING_WORDS else word
        if single in _WHOLE_READING_WORDS or word in _WHOLE_READING_JOINED:
            return True
        if word.endswith(("grep", "zip")):  # zgrep, ripgrep, egrep; gzip, unzip, 7zip
            return True
        following = words[index + 1] if index + 1 < len(words) else ""
        if following in _WHOLE_READING_PAIRS.get(word, ()):
            return True
    return False


@dataclass
class Walk:
    """Files found under the folders a call reads (workspace-relative), capped."""

    files: list[tuple[str, str]] = field(default_factory=list)  # (as reached, real location)
    over_cap: bool = False
    seen: set[str] = field(default_factory=set)


def walk_folder(root: Path, start: Path, walk: Walk, cap: int = WALK_CAP) -> None:
    """Every file under `start` (links to folders followed once, inside `root` only).

    Asked before every tool call (the workspace's secret files), so each folder's real path and
    its path from the root are carried down, not worked out again: a folder that is no link, in
    a folder whose real path is known, is that path and its own name (realpath is asked only of
    the start and of links)."""
    inside = str(root)
    start_real = os.path.realpath(start)
    here = os.path.relpath(start, root)
    stack = [
        (start, start_real != os.path.normpath(start), start_real, "" if here == "." else here)
    ]
    while stack and not walk.over_cap:
        folder, inside_link, real, here = stack.pop()
        if real in walk.seen or not (real == inside or real.startswith(inside + os.sep)):
            continue
        walk.seen.add(real)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        prefix = here + os.sep if here else ""  # a name has no "/"
        for entry in entries:
            link = entry.is_symlink()
            if entry.is_dir(follow_symlinks=True):
                found = os.path.realpath(entry.path) if link else os.path.join(real, entry.name)
                stack.append((Path(entry.path), inside_link or link, found, prefix + entry.name))
                if not link:
                    continue
            if len(walk.files) >= cap:
                walk.over_cap = True
                return
            shown = prefix + entry.name
            linked = link or inside_link  # only then may it lead elsewhere
            walk.files.append(
                (shown, os.path.relpath(os.path.realpath(entry.path), root) if linked else shown)
            )
