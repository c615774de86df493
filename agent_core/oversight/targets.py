"""What one tool call touches and runs, in the form rules match: canonical paths, parsed commands.

A call becomes parts: one per path it names and per program its shell command runs (a program
with several path words gives one part per word). The policy decides each part; the call is
allowed only when every part is.
"""

from __future__ import annotations

import glob
import itertools
import os
import posixpath
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_core.oversight.folder_reads import (
    WALK_CAP,
    WHOLE,
    Walk,
    code_doubt,
    code_paths,
    folder_reads,
    inline_code,
    reads_whole,
    walk_folder,
)
from agent_core.oversight.patch_targets import extracted_files, patched_files
from agent_core.oversight.shell_commands import (
    CODE_RUNNERS,
    SHELLS,
    Invocation,
    read_command_line,
)
from agent_core.oversight.shell_syntax import Word
from agent_core.tools.decorator import ArgumentKinds
from agent_core.tools.errors import WorkspaceEscape
from agent_core.tools.workspace import Workspace

# Without a run (`onloop policy check`), paths go through the same Workspace checks against a
# folder that does not exist: lexical normalisation only, no symlink to follow, no glob to expand.
LEXICAL_ROOT = Path("/nonexistent/onloop-policy-check-workspace")
LEXICAL_NOTE = (
    "checked without a run's workspace: paths are normalised as text (symlinks are not followed, "
    "shell globs are compared with the rules' patterns instead of expanded)"
)
# Argument names that hold file or folder names, in tools that do not declare their kinds.
_PATH_ARGUMENT = re.compile(
    r"(^|_)(path|paths|file|files|filename|filenames|filepath|dir|dirname|directory|folder|uri)$",
    re.IGNORECASE,
)
GLOB_CAP = 200  # files a shell glob is expanded to before the rest count as unknown
# Shell settings that make `*` match dotfiles (bash dotglob, GLOBIGNORE; zsh globdots) or `**`
# descend into folders (bash globstar; zsh, ksh and fish do it by themselves).
_DOTS_SETTING = re.compile(r"dotglob|glob_?dots|GLOBIGNORE", re.IGNORECASE)
_DEEP_SETTING = re.compile(r"globstar|\b(zsh|ksh|ksh93|mksh|fish)\b")


@dataclass(frozen=True)
class PathTarget:
    """One file a call touches. Every spelling names it; aliases are look-alikes deny rules catch."""

    spellings: tuple[str, ...]  # canonical first, then the real location behind symlinks
    aliases: tuple[str, ...] = ()  # backslashes as '/', unicode-folded, case-folded, after `cd`
    argument: str | None = None  # the tool argument it came from; None for a shell word
    unexpanded_glob: bool = False  # a shell glob that could not be expanded (no live workspace)
    reached_by: str | None = None  # a file read because a folder is read whole ("grep -r .")

    def every(self, loose: bool) -> tuple[str, ...]:
        return self.spellings + self.aliases if loose else self.spellings


@dataclass(frozen=True)
class Part:
    invocation: Invocation | None = None
    path: PathTarget | None = None


@dataclass(frozen=True)
class CallTargets:
    parts: tuple[Part, ...]
    doubts: tuple[str, ...] = ()  # parts of a shell command that could not be read
    escape: str | None = None  # the workspace's refusal, when a path argument leaves it
    lexical: bool = False  # no live workspace: paths normalised as text only


def guess_kinds(arguments: dict[str, Any]) -> ArgumentKinds:
    """For a tool that declares no kinds: arguments named like paths (`path`, `paths`, `file`,
    `file_path`, `filename`, `repo_path`, `directory`, `uri`...) read as paths, `command` as a
    shell line."""
    names = tuple(
        k
        for k, v in arguments.items()
        if isinstance(k, str) and _PATH_ARGUMENT.search(k) and isinstance(v, str | list)
    )
    command = ("command",) if isinstance(arguments.get("command"), str) else ()
    return ArgumentKinds(paths=names, commands=command, guessed=True)


def call_targets(
    arguments: dict[str, Any], kinds: ArgumentKinds, workspace: Workspace | None, tool: str = ""
) -> CallTargets:
    lexical = workspace is None
    space = workspace if workspace is not None else Workspace(LEXICAL_ROOT)
    guessed = kinds.guessed
    parts: list[Part] = []
    doubts: list[str] = []
    for name in kinds.paths:
        values = arguments.get(name)
        for raw in values if isinstance(values, list) else [values] if values is not None else []:
            if guessed:  # perhaps not a workspace path at all: matched as text, never refused
                text = str(raw)
                text = text[7:] if text.lower().startswith("file://") else text
                if text.startswith("/") and not lexical:  # the workspace's own absolute name
                    text = space.display(_normal(text))
                target = _shell_spelling(text, space, lexical=True, folders=[])
                parts.append(Part(path=PathTarget(target.spellings, target.aliases, name)))
                continue
            try:
                parts.append(Part(path=tool_path(space, raw, name, lexical)))
            except WorkspaceEscape as exc:
                return CallTargets((), (), space.scrub(str(exc)), lexical)
    if reads_whole(tool, arguments):
        parts.extend(_tool_folder_parts(parts, space, lexical, doubts))
    for name in kinds.commands:
        command = arguments.get(name)
        if isinstance(command, str):
            parts.extend(_shell_parts(command, space, lexical, doubts))
    return CallTargets(tuple(parts) or (Part(),), tuple(dict.fromkeys(doubts)), None, lexical)


def _tool_folder_parts(
    named: list[Part], space: Workspace, lexical: bool, doubts: list[str]
) -> list[Part]:
    """A tool that reads its folder arguments whole (a recursive search or archive): every file."""
    walk, found = Walk(), []
    folders = [p for p in named if p.path is not None]
    if not folders:
        doubts.append("the tool reads a folder whole without naming it; its files are not known")
    for part in folders:
        assert part.path is not None
        folder = part.path.spellings[0]
        start = space.real_root / folder
        if lexical or folder.startswith(("/", "~", "../")) or not start.exists():
            doubts.append(f"the tool reads {folder!r} whole, which can be checked only in the run")
            continue
        before = len(walk.files)
        walk_folder(space.real_root, start, walk)
        via = f"the tool reads every file under {folder!r}"
        for shown, real in walk.files[before:]:
            found.append(Part(path=PathTarget(_unique([shown, real]), (), None, False, via)))
    if walk.over_cap:
        doubts.append(f"the tool reads more than {WALK_CAP:,} files, too many to check")
    return found


def tool_path(space: Workspace, raw: str, argument: str | None, lexical: bool) -> PathTarget:
    """The path as the tool will use it (Workspace.resolve), and where it really leads."""
    resolved = space.resolve(raw)
    canonical = space.display(resolved)
    spellings = [canonical]
    if not lexical:
        spellings.append(space.display(Path(os.path.realpath(resolved))))
    return PathTarget(_unique(spellings), _aliases(canonical), argument)


def _shell_parts(command: str, space: Workspace, lexical: bool, doubts: list[str]) -> list[Part]:
    line = read_command_line(command)
    doubts.extend(line.doubts)
    folders = [
        i.operands[0] for i in line.invocations if i.program in ("cd", "pushd") and i.operands
    ]
    if any(i.program in ("cd", "pushd") and not i.operands for i in line.invocations):
        doubts.append("cd without a folder goes to a home folder outside the workspace")
    parts: list[Part] = []
    walk = Walk()
    several = len(line.invocations) > 1
    globbing = _Globbing(bool(_DOTS_SETTING.search(command)), bool(_DEEP_SETTING.search(command)))
    for index, invocation in enumerate(line.invocations):
        words = [*invocation.paths, *_embedded_paths(invocation)]
        for inside in (patched_files, extracted_files):  # named in the patch or archive it reads
            named, doubt = inside(invocation, None if lexical else space.real_root)
            words += [Word(name) for name in named]
            doubts += [doubt] if doubt is not None else []
        if (script := _script_written_here(invocation, line.invocations[:index])) is not None:
            doubts.append("the line writes a script and runs it, which rules cannot read fully")
            words += [Word(p) for code in script for p in code_paths(code)]
        if (why := code_doubt(invocation)) is not None:
            doubts.append(why)
        targets = [
            t
            for w in words
            for t in _shell_path(w, space, lexical, folders, doubts, globbing=globbing)
        ]
        earlier = {o for i in line.invocations[:index] for o in i.operands}
        targets += _folder_files(invocation, space, lexical, folders, earlier, walk, doubts)
        parts.extend([Part(invocation, t) for t in targets] or [Part(invocation)])
    for word in line.paths:
        found = _shell_path(word, space, lexical, folders, doubts, several, globbing)
        parts.extend(Part(None, t) for t in found)
    return parts or [Part()]


def _embedded_paths(invocation: Invocation) -> list[Word]:
    """File names inside an interpreter's inline code, and after `REV:` in a git object name."""
    words = [Word(p) for code in inline_code(invocation) for p in code_paths(code)]
    if invocation.program == "git":
        words += [Word(o.split(":", 1)[1]) for o in invocation.operands if ":" in o[1:]]
    return words


def _script_written_here(invocation: Invocation, earlier: list[Invocation]) -> list[str] | None:
    """What earlier commands of the line gave (`echo CODE > s.py && python3 s.py`), when the
    script `invocation` runs is a file one of them names; None when it runs no such file."""
    runs_code = CODE_RUNNERS.fullmatch(invocation.program) or invocation.program in SHELLS
    script = next((o for o in invocation.operands if o != "-"), None) if runs_code else None
    if script is None or not any(script in (w.text for w in i.paths) for i in earlier):
        return None
    return [t for i in earlier for t in (*i.operands, i.stdin or "")]


def _folder_files(
    invocation: Invocation,
    space: Workspace,
    lexical: bool,
    cds: list[str],
    earlier: set[str],
    walk: Walk,
    doubts: list[str],
) -> list[PathTarget]:
    """Every file under the folders `invocation` reads whole, as parts the rules see."""
    reads = folder_reads(invocation)
    if not reads.folders and not reads.here_by_default:
        return []
    if lexical:
        shown = ", ".join(repr(f) for f in reads.folders) or "the current folder"
        doubts.append(f"{reads.how} reads every file under {shown}, seen only in a run's workspace")
        return []
    root = space.real_root
    starts: list[tuple[str, Path]] = []
    for folder in reads.folders:
        if folder.startswith("/"):  # the workspace's own absolute location names a folder in it
            inside = space.display(_normal(folder))
            folder = folder if inside.startswith("/") else inside
        for base in ["", *cds]:
            text = _normal(posixpath.join(base, folder)) if base else _normal(folder)
            if text.startswith(("/", "~", "../")) or text == "..":
                continue
            path = root / text
            if path.is_dir():
                starts.append((folder, path))
            elif not path.exists() and folder in earlier and folder not in ("{}", "-"):
                starts.append((WHOLE, root))  # made by an earlier command: it may be any one
    if not starts and reads.here_by_default and not _names_existing(reads.folders, root):
        starts = [(WHOLE, root / cd) for cd in cds] + [(WHOLE, root)]
    found: list[PathTarget] = []
    for folder, start in dict.fromkeys(starts):
        before = len(walk.files)
        walk_folder(root, start, walk)
        via = f"{reads.how} reads every file under {folder!r}"
        found += [PathTarget(_unique([s, r]), (), None, False, via) for s, r in walk.files[before:]]
    if walk.over_cap:
        doubts.append(f"{reads.how} reads more than {WALK_CAP:,} files, too many to check")
    return found


@dataclass(frozen=True)
class _Globbing:
    """How the shell expands patterns in this line (after `shopt -s dotglob globstar`)."""

    dots: bool = False
    deep: bool = False


def _names_existing(words: tuple[str, ...], root: Path) -> bool:
    return any(
        not w.startswith(("/", "~")) and (root / _normal(w)).exists() for w in words if w.strip()
    )


def _shell_path(
    word: Word,
    space: Workspace,
    lexical: bool,
    folders: list[str],
    doubts: list[str],
    several: bool = False,
    globbing: _Globbing | None = None,
) -> list[PathTarget]:
    """A shell word as the file(s) it may name: made canonical, and expanded if it is a glob."""
    word = _through_proc(word, doubts)
    targets = [_shell_spelling(word.text, space, lexical, folders, word.glob and lexical)]
    if not word.glob:
        return targets
    if lexical:
        if word.text.startswith("-"):
            doubts.append(f"the pattern {word.text!r} may expand to flags")
        return targets
    if word.text.startswith(("/", "~")):
        return targets
    # As the shell does (no globstar): ** is *, dotfiles only for a pattern starting with '.'.
    # After `cd DIR` the shell expands it in DIR: each folder the line may be in counts.
    patterns = [word.text] + [_normal(posixpath.join(f, word.text)) for f in folders]
    how = globbing or _Globbing()
    found = itertools.chain(
        *(
            glob.iglob(p, root_dir=space.real_root, recursive=how.deep, include_hidden=how.dots)
            for p in patterns
        )
    )
    matches = sorted(set(itertools.islice(found, GLOB_CAP)))
    if len(matches) == GLOB_CAP:
        doubts.append(f"the pattern {word.text!r} matches more files than are checked")
    if any(posixpath.basename(m).startswith("-") for m in matches):
        doubts.append(f"the pattern {word.text!r} expands to a file named like a flag")
    if not matches and several:  # nothing now; an earlier command may make what it matches
        return [_shell_spelling(word.text, space, lexical, folders, glob_=True)]
    return targets + [_shell_spelling(m, space, lexical, folders) for m in matches]


# A process's own view of the file system: /proc/self/cwd is the command's folder (the workspace,
# not the deciding process's), /proc/self/root its root; an open folder's descriptor is unknowable.
_PROC_VIEW = re.compile(r"/proc/(?:self|thread-self|\d+)(?:/task/\d+)?/(cwd|root)(?:/(.*))?")
_FD_FOLDER = re.compile(r"/(?:proc/(?:self|thread-self|\d+)(?:/task/\d+)?|dev)/fd/\d+/.+")


def _through_proc(word: Word, doubts: list[str]) -> Word:
    """The path a /proc view names as the sandboxed command sees it: `/proc/self/cwd/x` is `x`
    in the command's folder, `/proc/self/root/x` is `/x`; through a folder's descriptor, a doubt."""
    # Slashes and dots collapsed, not `..`: the kernel follows cwd before `..` leaves it.
    parts = [s for s in word.text.strip().split("/") if s and s != "."]
    normal = "/" + "/".join(parts) if word.text.strip().startswith("/") else ""
    if _FD_FOLDER.fullmatch(normal):
        doubts.append(f"the path {word.text!r} goes through an open folder, which rules cannot see")
        return word
    view = _PROC_VIEW.fullmatch(normal) or (
        _PROC_VIEW.fullmatch(_normal(word.text)) if normal else None  # (/dev/fd/../../proc/...)
    )
    if view is None:
        return word
    rest = view.group(2) or ""
    return Word((rest or ".") if view.group(1) == "cwd" else "/" + rest, word.glob)


def redirected(invocation: Invocation) -> set[str]:
    """The files `invocation`'s output is redirected into, each spelled as its path part is
    (`> ./package.json`, `> sub/../package.json`, `> /proc/self/cwd/package.json` all name
    `package.json`): compared by its raw text, such a write went unseen and the call was a read."""
    return _named(invocation.writes)


def _named(texts: tuple[str, ...]) -> set[str]:
    return {_normal(_through_proc(Word(text), []).text) for text in texts}


_SILENT = frozenset({":", "true", "false"})  # commands that print nothing


def replacement(
    invocation: Invocation, spellings: tuple[str, ...], read: Callable[[str], str | None]
) -> str | None:
    """What the file spelled `spellings` holds after `invocation`, when the command line says:
    the output of a command that prints what it is given (`:`, `echo WORDS`, `printf`, `cat
    /dev/null`, `cat` or `tee` of a here-document) written over it, or the file `cp` or `mv`
    puts in its place (`read` gives a workspace file's text). None: not known here."""
    if _named(invocation.truncates) & set(spellings):
        return _printed(invocation)
    program, operands = invocation.program, invocation.operands
    if program == "install":
        operands = _install_files(invocation.words) if invocation.words else operands
    if program == "tee" and invocation.stdin is not None and not invocation.flags & {"-a"}:
        return invocation.stdin if _named(operands) & set(spellings) else None  # `tee F <<EOF`
    if program not in ("cp", "mv", "install") or len(operands) != 2 or "-t" in invocation.flags:
        return None
    if not _named(operands[1:]) & set(spellings):
        return None
    return "" if operands[0] == "/dev/null" else read(_normal(operands[0]))


# install's options whose value is the next word: a mode, an owner, a group are no files
_INSTALL_VALUES = frozenset({"-m", "--mode", "-o", "--owner", "-g", "--group", "-S", "--suffix"})


def _install_files(words: tuple[str, ...]) -> tuple[str, ...]:
    """The files `install` names (`install -m 644 new.txt notes.txt`: new.txt, notes.txt)."""
    files: list[str] = []
    skip = False
    for word in words:
        if skip or word in _INSTALL_VALUES:
            skip = not skip and word in _INSTALL_VALUES
            continue
        if not word.startswith("-"):
            files.append(word)
    return tuple(files)


def _printed(invocation: Invocation) -> str | None:
    program, flags, operands = invocation.program, invocation.flags, invocation.operands
    if program in _SILENT:
        return ""
    if program == "echo" and flags <= {"-n", "-e", "-E"}:
        return " ".join(operands)
    if program == "printf" and not flags:
        return "".join(operands)
    if program == "cat" and operands and set(operands) == {"/dev/null"}:
        return ""
    if program == "cat" and set(operands) <= {"-"} and invocation.stdin is not None:
        return invocation.stdin  # `cat > F <<'EOF'`: the here-document as written
    return None


def _shell_spelling(
    text: str, space: Workspace, lexical: bool, folders: list[str], glob_: bool = False
) -> PathTarget:
    canonical = _normal(text)
    spellings = [canonical]
    if not lexical and not canonical.startswith(("/", "~", "../")) and canonical != "..":
        real = Path(os.path.realpath(space.real_root / canonical))
        spellings.append(space.display(real))
    aliases = list(_aliases(canonical))
    if not canonical.startswith(("/", "~")):
        aliases += [_normal(posixpath.join(folder, canonical)) for folder in folders]
    return PathTarget(_unique(spellings), _unique(aliases), None, glob_)


def _normal(text: str) -> str:
    """A shell word as a path: slashes collapsed, '.' and '..' resolved as text where possible."""
    text = text.strip()
    absolute = text.startswith("/")
    normal = posixpath.normpath("/".join(s for s in text.split("/") if s) or ".")
    return "/" + normal.lstrip("/") if absolute else normal


def _aliases(path: str) -> tuple[str, ...]:
    """Look-alike spellings: on some systems (or to a reader) they name the same file."""
    visible = "".join(c for c in path if unicodedata.category(c) not in ("Cf", "Cc"))
    folded = unicodedata.normalize("NFKC", visible)
    variants = [_normal(path.replace("\\", "/")), visible, folded, folded.casefold()]
    return tuple(v for v in _unique(variants) if v != path)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
