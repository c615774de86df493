"""What a shell command line runs: every program, seen through wrappers, with normalised flags.

`sudo env timeout 5 /bin/rm -fR x`, `bash -c "rm -rf x"`, `find . -exec rm -r {} ;` and
`xargs rm -r` all yield an invocation of `rm` with the flag `-r`. The wrappers are kept as
invocations of their own, so a rule can also name them.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from agent_core.oversight.shell_flags import read_flags
from agent_core.oversight.shell_syntax import SimpleCommand, Word, read_shell, risky_assignment

MAX_DEPTH = 6  # nested `sh -c` levels read before giving up (and asking)
SYSTEM_BIN = frozenset(
    {"/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}
)
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "yash", "fish", "su"})
# Programs that run code given inline (-c, -e, --eval) or on their input (`python3 <<EOF`).
CODE_RUNNERS = re.compile(
    r"(python|pypy)[0-9.]*|perl[0-9.]*|ruby|node|nodejs|bun|deno|php[0-9.]*|lua(jit)?[0-9.]*|"
    r"Rscript|R|julia|tclsh[0-9.]*|wish|expect|emacs|guile|racket|sbcl|clisp|ocaml|ghci?|"
    r"pwsh|powershell|osascript|jshell|groovy|scala|kotlinc?|elixir|iex|erl|escript|octave|"
    r"gnuplot|sqlite3?|duckdb|psql|mysql"
)
_INLINE_WORDS = frozenset({"-c", "-e", "-E", "-r", "--eval", "--exec", "eval", "-eval", "-Command"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
Inner = list[Word] | None  # the wrapped command's words, when a wrapper runs one


@dataclass(frozen=True)
class Invocation:
    """One program run by the command line, as rules see it."""

    program: str
    flags: frozenset[str]
    operands: tuple[str, ...]
    paths: tuple[Word, ...]  # words that may name files: operands, --opt=values, redirections
    stdin: str | None = None  # the literal here-doc or here-string fed to it (code, for python3)
    writes: tuple[str, ...] = ()  # files its output is redirected into (>, >>, &>)
    # its own arguments in order (not the command a wrapper runs): where a word stands matters
    # (`git -c K=V status` against `git switch -c log`)
    words: tuple[str, ...] = ()
    truncates: tuple[str, ...] = ()  # those of `writes` emptied first (>, not >>)
    each_file: bool = False  # run by `find -exec` on every file found

    @property
    def text(self) -> str:
        """One normalised spelling (program, sorted flags, operands) for `re:` and glob rules."""
        return " ".join([self.program, *sorted(self.flags), *self.operands])


@dataclass
class CommandLine:
    invocations: list[Invocation] = field(default_factory=list)
    paths: list[Word] = field(default_factory=list)  # redirections of compound statements
    writes: list[str] = field(default_factory=list)  # those of them that write
    doubts: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)  # what variable assignments set (`X=v`)


def read_command_line(script: str) -> CommandLine:
    """Every program `script` runs; doubts say where a reading may miss something."""
    line = CommandLine()
    _read(script, line, 0)
    if any(i.program in MAKES for i in line.invocations) and any(
        _COMMAND_TEXT.search(v) for v in line.values
    ):  # make takes the environment's variables as its own: `PY='rm -rf src;' make test`
        line.doubts.append("make runs a command line a variable of the line gives")
    return line


def _read(script: str, line: CommandLine, depth: int) -> None:
    if depth > MAX_DEPTH:
        line.doubts.append(f"shell commands nested more than {MAX_DEPTH} levels deep")
        return
    reading = read_shell(script)
    line.doubts.extend(reading.doubts)
    line.paths.extend(Word(p, glob=p in reading.globbed) for p in reading.redirects)
    line.writes.extend(reading.writes)
    line.values.extend(reading.values)
    for command in reading.commands:
        _invoke(command.words, command, line, depth)


def program_name(spelling: str) -> str:
    """`/bin/rm`, `//usr/bin/../bin/rm` -> `rm`; other paths stay paths (a workspace script)."""
    if "/" not in spelling:
        return spelling
    path = posixpath.normpath(re.sub("/+", "/", spelling))
    folder, base = posixpath.split(path)
    if folder in SYSTEM_BIN:
        return base
    return path if path.startswith("/") else "./" + path


def _invoke(
    words: list[Word], command: SimpleCommand, line: CommandLine, depth: int, each: bool = False
) -> None:
    if not words:
        return
    program = program_name(words[0].text)
    if words[0].glob:
        line.doubts.append(f"the command name {words[0].text!r} is a pattern the shell expands")
    wrapper = WRAPPERS.get(program)
    inner = wrapper(words[1:], command, line, depth) if wrapper is not None else None
    if (why := _inline_code(program, words[1:], command.stdin_script)) is not None:
        line.doubts.append(why)
    if program in MAKES and (why := _make_code([w.text for w in words[1:]])) is not None:
        line.doubts.append(why)
    if (why := _option_code(program, [w.text for w in words[1:]])) is not None:
        line.doubts.append(why)
    own = words[1 : len(words) - len(inner)] if inner else words[1:]
    read = read_flags(program, [w.text for w in own])
    operand_words = [w for w in own if w.text in read.operands or w.glob]
    redirects = [Word(r, glob=r in command.globbed) for r in command.redirects]
    paths = [*operand_words, *(Word(v) for v in read.values), *redirects]
    paths += [Word(v) for v in _attached_values(own)]
    if "/" in program:
        paths.append(Word(program))
    stdin = command.stdin_script
    writes = (*command.writes, *_output_files(own))
    arguments = tuple(w.text for w in own)
    truncates = tuple(command.truncates)
    line.invocations.append(
        Invocation(
            program,
            read.flags,
            read.operands,
            tuple(paths),
            stdin,
            writes,
            arguments,
            truncates,
            each,
        )
    )
    if inner:
        _invoke(inner, command, line, depth, each)


# Options naming a file the program writes its report into (`git diff --output=F`).
_OUTPUT_OPTIONS = frozenset(
    {"--output", "--output-file", "--junitxml", "--junit-xml", "--log-file", "--report-log"}
)


def _output_files(words: list[Word]) -> list[str]:
    """Files written through an option, as a redirection writes them: `--junitxml=F`, `--output F`."""
    found = []
    for index, word in enumerate(words):
        option, given, value = word.text.partition("=")
        if option not in _OUTPUT_OPTIONS:
            continue
        if not given and index + 1 < len(words):
            value = words[index + 1].text
        found.append(value)
    return [f for f in found if f]


def _attached_values(words: list[Word]) -> list[str]:
    """Values glued to a word that may be files: `dd if=.env`, `-o.env`, `-I.ssh`."""
    values = []
    for word in words:
        text = word.text
        if "=" in text and not text.startswith("--"):
            values.append(text.split("=", 1)[1])
        elif re.match(r"^-[A-Za-z]\W", text) or re.match(r"^-[A-Za-z].*[./~]", text):
            values.append(text[2:])
    return [v for v in values if v]


def _inline_code(program: str, words: list[Word], command_stdin: str | None) -> str | None:
    """Why an interpreter's inline code (python -c, perl -e...) cannot be read by the rules."""
    if not CODE_RUNNERS.fullmatch(program):
        return None
    if any(w.text in _INLINE_WORDS or w.text.startswith("--eval") for w in words):
        return f"{program} runs inline code, which rules cannot read"
    if program.startswith(("sqlite", "duckdb")) and len(words) > 1:
        return f"{program} runs the SQL it is given, which rules cannot read"
    if command_stdin is not None and stdin_is_code(program, [w.text for w in words]):
        return f"{program} runs code from its input, which rules cannot read"
    return None


# Options with which a program runs a command it is given (`tar -t --checkpoint-action=exec=CMD`,
# `split --filter=CMD`): the command is a string the rules cannot read.
_COMMAND_OPTIONS = {
    **{tar: ("--to-command", "--checkpoint-action", "-I", "--use-compress-program", "--rsh-command",
             "--info-script", "-F", "--new-volume-script")
       for tar in ("tar", "gtar")},
    "zip": ("-TT", "--unzip-command"),
    "split": ("--filter",),
    "sort": ("--compress-program",),
    "man": ("-P", "--pager", "-H", "--html"),
}  # fmt: skip
# git subcommands that run the command after them (`git bisect run CMD`, `git submodule foreach`).
_GIT_RUNNERS = (("bisect", "run"), ("submodule", "foreach"))
_YQ_LOAD = re.compile(r"\bload(_[a-z0-9]+)?\s*\(")  # yq's load("f"), load_str(...): any file


def _option_code(program: str, arguments: list[str]) -> str | None:
    """Why a program runs a command given in its options or words, which rules cannot read."""
    for option in _COMMAND_OPTIONS.get(program, ()):
        short = not option.startswith("--")
        if any(a == option or a.startswith(option + "=") or (short and a.startswith(option))
               for a in arguments):  # fmt: skip
            return f"{program} {option} runs a command it is given, which rules cannot read"
    if program == "yq" and any(_YQ_LOAD.search(a) for a in arguments):
        return "yq loads the files its expression names, which rules cannot read"
    operands = [a for a in arguments if not a.startswith("-")]
    if program == "git" and any(
        list(pair) == operands[i : i + 2] for pair in _GIT_RUNNERS for i in range(len(operands))
    ):
        return "git runs the command it is given (bisect run, submodule foreach)"
    return None


MAKES = frozenset({"make", "gmake", "bmake", "remake"})
# make's variables that choose the shell its recipes run in, or its own options
_MAKE_SETTINGS = frozenset({"SHELL", ".SHELLFLAGS", "MAKEFLAGS", "MAKE", "MAKEFILES", "MFLAGS",
                            "GNUMAKEFLAGS", "MAKESHELL"})  # fmt: skip
# A value that reads as a command line rather than a name, a number or a path.
_COMMAND_TEXT = re.compile(r"[\s;&|`$()<>'\"\\]")
_MAKE_FILE = re.compile(r"^(?:--(?:file|makefile)=?|-[A-Za-z]*f)(.*)$")


def _make_code(arguments: list[str]) -> str | None:
    """Why make's arguments run text the rules cannot read: a makefile given inline (`--eval`,
    `-E`) or on its input (`-f -`), a variable set to a command line (`make test PY='rm -rf
    src;'`, which a recipe then runs) or one that picks the shell (`SHELL=`)."""
    for index, word in enumerate(arguments):
        if word.startswith("--eval") or re.match(r"^-[A-Za-z]*E", word):
            return "make runs the makefile text it is given, which rules cannot read"
        if (given := _MAKE_FILE.match(word)) is not None:
            name = given.group(1) or (arguments[index + 1] if index + 1 < len(arguments) else "")
            if name == "-" or name.startswith(("/dev/", "/proc/")):
                return "make reads a makefile from its input, which rules cannot read"
        name, equals, value = word.partition("=")
        if equals and not word.startswith("-"):
            if name.rstrip(":+?!") in _MAKE_SETTINGS or name.endswith("!"):
                return f"make's {name.rstrip(':+?!')} changes how its recipes run"
            if _COMMAND_TEXT.search(value):
                return f"make's variable {name} is set to a command line a recipe may run"
    return None


def stdin_is_code(program: str, arguments: list[str] | tuple[str, ...]) -> bool:
    """Whether what `program` reads on its input is code: `python3 <<EOF`, `sqlite3 db <<<'…'`."""
    if not CODE_RUNNERS.fullmatch(program):
        return False
    script = [a for a in arguments if a == "-" or not a.startswith("-")]
    return not script or script[0] == "-" or program.startswith(("sqlite", "duckdb", "psql", "my"))


# -- wrappers: programs that run another command given in their arguments ------------------------


def _after_options(words: list[Word], takes_value: str = "", env: bool = False) -> list[Word]:
    """The words after the leading options (and NAME=VALUE words when `env`)."""
    index = 0
    while index < len(words):
        text = words[index].text
        if text == "--":
            return words[index + 1 :]
        if env and _ENV_NAME.match(text):
            index += 1
            continue
        if not text.startswith("-") or text == "-":
            break
        short = text[1:2] if not text.startswith("--") else ""
        if short and short in takes_value and len(text) == 2:
            index += 1  # the option's value is the next word
        index += 1
    return words[index:]


def _run_rest(takes_value: str = "", env: bool = False, skip: int = 0) -> Callable:
    def wrapper(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
        rest = _after_options(words, takes_value, env)[skip:]
        if env:
            for word in words[: len(words) - len(rest)]:
                name, _, value = word.text.partition("=")
                if _ENV_NAME.match(word.text) and risky_assignment(name, value):
                    line.doubts.append(f"the command sets {name}")
                if _ENV_NAME.match(word.text):
                    line.values.append(value)
                if word.text.startswith("-S") or word.text.startswith("--split-string"):
                    line.doubts.append("env -S splits a string into a command")
        return rest

    return wrapper


def _xargs(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
    line.doubts.append("xargs adds arguments (and maybe flags) read from its input")
    return _after_options(words, takes_value="adEeIiLlnPs") or None


def _find(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
    index = 0
    while index < len(words):
        if words[index].text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = index + 1
            while end < len(words) and words[end].text not in (";", "+"):
                end += 1
            _invoke(words[index + 1 : end], command, line, depth, each=True)
            index = end
        index += 1
    return None


def _shell(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
    index, script_follows = 0, False
    while index < len(words) and words[index].text.startswith(("-", "+")):
        text = words[index].text
        if text in ("-o", "+o", "-O", "+O"):
            index += 1
        elif not text.startswith("--") and "c" in text[1:]:
            script_follows = True
        index += 1
    rest = words[index:]
    if script_follows and rest:
        _read(rest[0].text, line, depth + 1)
    elif rest:
        line.doubts.append(f"runs the script file {rest[0].text!r}, which rules cannot see into")
    elif command.stdin_script is not None:
        _read(command.stdin_script, line, depth + 1)
    else:
        line.doubts.append("a shell reads commands from its input, which rules cannot see")
    return None


def _joined(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
    line.doubts.append("eval or watch runs a string as a command")
    _read(" ".join(w.text for w in _after_options(words, "dn")), line, depth + 1)
    return None


def _trap(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
    rest = _after_options(words)
    if rest:  # trap 'commands' SIGNAL...: the commands run later, in this shell
        _read(rest[0].text, line, depth + 1)
    return None


def _flock(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
    texts = [w.text for w in words]
    if "-c" in texts[:-1]:  # flock -c 'commands' FILE
        _read(texts[texts.index("-c") + 1], line, depth + 1)
        return None
    return _after_options(words, takes_value="wE")[1:] or None  # flock FILE command...


def _alias(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
    line.doubts.append("alias, hash and enable change what a command name runs")
    for word in words:
        if "=" in word.text:
            _read(word.text.split("=", 1)[1], line, depth + 1)
    return None


def _source(words: list[Word], command: SimpleCommand, line: CommandLine, depth: int) -> Inner:
    line.doubts.append("source runs a script file, which rules cannot see into")
    return None


# Options of `uv` and `uv run` (and `poetry`) whose value is the next word.
_RUNNER_VALUES = frozenset(
    {"--with", "-w", "--with-editable", "--with-requirements", "--python", "-p", "--directory",
     "--project", "-P", "--package", "--extra", "--group", "--only-group", "--no-group",
     "--env-file", "--index", "--default-index", "--index-url", "-i", "--extra-index-url",
     "--find-links", "-f", "--upgrade-package", "--reinstall-package", "--refresh-package",
     "--no-build-package", "--no-binary-package", "--index-strategy", "--keyring-provider",
     "--resolution", "--prerelease", "--exclude-newer", "--link-mode", "--config-setting", "-C",
     "--cache-dir", "--config-file", "--color", "--allow-insecure-host", "--python-preference",
     "--python-platform"}
)  # fmt: skip


def _runs_subcommand(words: list[Word], command, line: CommandLine, depth: int) -> Inner:
    """`uv run CMD`, `poetry run CMD`: CMD is a command of its own (`uv run rm -rf .` is `rm`);
    other subcommands run none. An option not known to take a value is read as a switch, so
    a value it had is read as the program: unknown, asked about."""
    index, seen_run = 0, False
    while index < len(words):
        text = words[index].text
        if text == "--" and seen_run:
            return words[index + 1 :] or None
        if text.startswith("-"):
            index += 2 if text in _RUNNER_VALUES else 1
            continue
        if seen_run:
            return words[index:]
        if text != "run":
            return None
        seen_run = True
        index += 1
    return None


def _command_builtin(words: list[Word], command, line: CommandLine, depth: int) -> Inner:
    if any(w.text in ("-v", "-V") for w in words[:2]):
        return None  # `command -v x` only looks x up
    return _after_options(words)


WRAPPERS: dict[str, Callable] = {
    "sudo": _run_rest(takes_value="CDghprtTuU"),
    "doas": _run_rest(takes_value="uC"),
    "env": _run_rest(takes_value="uCS", env=True),
    "command": _command_builtin,
    "builtin": _run_rest(),
    "exec": _run_rest(takes_value="a"),
    "nohup": _run_rest(),
    "setsid": _run_rest(),
    "time": _run_rest(),
    "nice": _run_rest(takes_value="n"),
    "ionice": _run_rest(takes_value="cnpPu"),
    "stdbuf": _run_rest(takes_value="ioe"),
    "chronic": _run_rest(),
    "unbuffer": _run_rest(),
    "busybox": _run_rest(),
    "toybox": _run_rest(),
    "timeout": _run_rest(takes_value="sk", skip=1),
    "xargs": _xargs,
    "trap": _trap,
    "alias": _alias,
    "hash": _alias,
    "enable": _alias,
    "flock": _flock,
    "chroot": _run_rest(skip=1),
    "unshare": _run_rest(),
    "strace": _run_rest(takes_value="oeEpsSuIaPX"),
    "ltrace": _run_rest(takes_value="oeEpsSuIaPX"),
    "taskset": _run_rest(skip=1),
    "faketime": _run_rest(skip=1),
    "fakeroot": _run_rest(),
    "pkexec": _run_rest(takes_value="u"),
    "runuser": _run_rest(takes_value="ugGc"),
    "firejail": _run_rest(),
    "xvfb-run": _run_rest(takes_value="nsefpw"),
    "dbus-run-session": _run_rest(),
    "catchsegv": _run_rest(),
    "find": _find,
    "uv": _runs_subcommand,
    "poetry": _runs_subcommand,
    "eval": _joined,
    "watch": _joined,
    "source": _source,
    ".": _source,
    **{name: _shell for name in SHELLS},
}
