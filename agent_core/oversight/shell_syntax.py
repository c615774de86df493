"""A shell command line read by a real parser (tree-sitter-bash) into the simple commands it runs.

Words come out as the shell would pass them (quotes removed, `\\rm` and `r''m` are `rm`). What
cannot be known before running (a computed command name, `eval`, a word built from variables,
brace expansion, a parse error) is reported as a doubt, so the policy asks a person.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

import tree_sitter
import tree_sitter_bash

_BASH = tree_sitter.Language(tree_sitter_bash.language())
_GLOB = re.compile(r"[*?\[]")
_BRACE = re.compile(r"\{[^{}]*(,|\.\.)[^{}]*\}")
# Environment variables that change which program runs or what the shell executes first.
RISKY_VARIABLES = frozenset(
    {"PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "CDPATH"}
)
# ... and those naming a program (or a library, or a repository's configuration) that the
# program after them runs: `GIT_EXTERNAL_DIFF='rm -rf .' git diff` and core.fsmonitor through
# GIT_CONFIG_COUNT make a read run anything. (Pagers are left out: git pages only on a terminal.)
PROGRAM_VARIABLES = frozenset(
    {"GIT_EXTERNAL_DIFF", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG",
     "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_DIR", "GIT_COMMON_DIR", "GIT_EXEC_PATH",
     "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR", "EDITOR", "VISUAL",
     "GIT_ASKPASS", "SSH_ASKPASS", "GIT_PROXY_COMMAND", "GIT_TEMPLATE_DIR", "LD_PRELOAD",
     "LD_LIBRARY_PATH", "LD_AUDIT", "HOME", "XDG_CONFIG_HOME",  # (~/.gitconfig: core.fsmonitor)
     # options a program takes from the environment, which load code or delete: a check's
     # `PYTEST_ADDOPTS=--basetemp=src pytest` deletes src/, `-p` loads any plugin, node's
     # --require and the JVM's -javaagent run a file of anyone's choosing first
     "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
     "JDK_JAVA_OPTIONS", "MAVEN_OPTS", "GRADLE_OPTS", "PERL5OPT", "RUBYOPT", "PYTHONSTARTUP",
     "BROWSER", "MAKEFLAGS", "GNUMAKEFLAGS", "MFLAGS", "MAKEFILES",
     # less runs its input preprocessor even with no terminal; tar and zip take options
     # (`--checkpoint-action=exec=`, `-TT`) from these
     "LESSOPEN", "LESSCLOSE", "TAR_OPTIONS", "ZIPOPT"}
)  # fmt: skip
# npm reads any setting from the environment (script-shell), pip any option (PIP_INDEX_URL: the
# code it installs and runs comes from there), uv its indexes
_PROGRAM_PREFIXES = ("npm_config_", "pip_", "uv_index", "uv_default_index", "uv_extra_index",
                     "uv_find_links")  # fmt: skip
_HARMLESS_PROGRAMS = frozenset({"", "true", ":", "cat"})  # `GIT_EDITOR=true git merge`


def risky_assignment(name: str, value: str) -> bool:
    """Whether setting `name` to `value` for a command changes what it runs."""
    if name in RISKY_VARIABLES:
        return True
    named = name in PROGRAM_VARIABLES or name.lower().startswith(_PROGRAM_PREFIXES)
    return named and value.strip("'\" ") not in _HARMLESS_PROGRAMS


_EXPANSIONS = frozenset(
    {
        "simple_expansion",
        "expansion",
        "command_substitution",
        "process_substitution",
        "arithmetic_expansion",
        "translated_string",
    }
)


@dataclass(frozen=True)
class Word:
    """One word after quote removal; `glob` when it has unquoted *, ? or [ (the shell expands it)."""

    text: str
    glob: bool = False


@dataclass
class SimpleCommand:
    words: list[Word]  # the program first
    redirects: list[str] = field(default_factory=list)  # files it reads or writes by redirection
    stdin_script: str | None = None  # literal here-doc / here-string fed to it
    writes: list[str] = field(default_factory=list)  # the redirects that write (>, >>, &>, >|)
    truncates: list[str] = field(default_factory=list)  # those that empty the file first (not >>)
    globbed: set[str] = field(default_factory=set)  # redirects with a pattern (bash expands it)


@dataclass
class ShellReading:
    commands: list[SimpleCommand] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)  # on compound statements, not one command
    writes: list[str] = field(default_factory=list)  # those of them that write
    globbed: set[str] = field(default_factory=set)  # those of them with a pattern
    doubts: list[str] = field(default_factory=list)  # why the reading may be incomplete
    values: list[str] = field(default_factory=list)  # what the line's variable assignments set


def read_shell(script: str) -> ShellReading:
    """Every simple command `script` contains, at any depth (pipes, lists, $(…), subshells…)."""
    reading = ShellReading()
    if "\x00" in script:
        reading.doubts.append("the command contains a NUL character")
        return reading
    tree = tree_sitter.Parser(_BASH).parse(script.encode("utf-8"))  # a parser is not thread-safe
    if tree.root_node.has_error:
        reading.doubts.append("the shell parser could not read the command (a syntax error)")
    _walk(tree.root_node, reading)
    return reading


def _walk(node, reading: ShellReading) -> None:
    kind = node.type
    if kind == "command":
        _command(node, reading)
        return
    if kind in ("ERROR", "MISSING"):
        reading.doubts.append(f"unreadable shell text {_text(node)!r}")
    elif kind == "variable_assignment":
        _assignment(node, reading)
        return
    elif kind == "redirected_statement":
        body = node.child_by_field_name("body")
        redirects = [c for c in node.children if c.type.endswith("_redirect")]
        if body is not None and body.type == "command":
            _command(body, reading, redirects)
            return
        if body is None:  # `> file` alone runs the null command: it empties the file
            null = SimpleCommand([Word(":")])
            for child in redirects:
                _redirect(child, null.redirects, null, reading)
            reading.commands.append(null)
            return
        for child in redirects:
            _redirect(child, reading.redirects, None, reading)
        if body is not None:
            _walk(body, reading)
        return
    elif kind == "function_definition":
        reading.doubts.append("the command defines a shell function")
    elif kind in ("heredoc_body", "heredoc_redirect", "herestring_redirect", "file_redirect"):
        _redirect(node, reading.redirects, None, reading)
        return
    for child in node.children:
        _walk(child, reading)


def _command(node, reading: ShellReading, redirects=()) -> None:
    words: list[Word] = []
    command = SimpleCommand(words)
    printed: list[str] = []  # computed arguments that only put variables in (`echo $HOME`)
    for child in [*node.children, *redirects]:
        name = node.field_name_for_child(_index(node, child)) if child.parent == node else None
        if child.type == "variable_assignment":
            _assignment(child, reading)
        elif child.type.endswith("_redirect"):
            _redirect(child, command.redirects, command, reading)
        elif name in ("name", "argument") or child.type == "command_name":
            target = child.children[0] if child.type == "command_name" else child
            word = _word(target, reading)
            if word is None:
                where = "command name" if not words else "argument"
                doubt = f"the {where} {_text(target)!r} is computed when it runs"
                (printed if words and _plain_variables(target) else reading.doubts).append(doubt)
                word = Word(_text(target))
            words.append(word)
        elif child.type not in ("comment",):
            _walk(child, reading)
    if printed and (words[0].text != "echo" or command.writes):
        reading.doubts.extend(printed)
    if words:
        reading.commands.append(command)


def _plain_variables(node) -> bool:
    """Whether a word only puts variables' values in (`$HOME`, `"${PATH}"`, `"v: $V"`): no
    command, arithmetic (which can run one) or operator. `echo` prints such a word and nothing
    else comes of it, so `echo $PATH` is read; with its output written to a file it is not."""
    kind = node.type
    if kind in ("word", "raw_string", "string_content", "number") or not node.is_named:
        return True
    if kind in ("simple_expansion", "expansion"):
        names = [c for c in node.children if c.is_named]
        return (
            len(names) == 1
            and names[0].type in ("variable_name", "special_variable_name")
            and (len(node.children) == (2 if kind == "simple_expansion" else 3))
        )
    if kind in ("string", "concatenation"):
        return all(_plain_variables(c) for c in node.children)
    return False


def _assignment(node, reading: ShellReading) -> None:
    name = node.child_by_field_name("name")
    value = node.child_by_field_name("value")
    if name is not None and risky_assignment(_text(name), _text(value) if value else ""):
        reading.doubts.append(f"the command sets {_text(name)}, which changes what runs")
    reading.values.append(_text(value) if value else "")
    for child in node.children:
        _walk_substitutions(child, reading)


def _redirect(node, into: list[str], command: SimpleCommand | None, reading) -> None:
    destination = node.child_by_field_name("destination")
    if node.type == "file_redirect" and destination is not None:
        operator = next((c.type for c in node.children if not c.is_named), "")
        word = _word(destination, reading)
        if word is None:
            reading.doubts.append(f"the redirection target {_text(destination)!r} is computed")
        elif not (operator in (">&", "<&") and (word.text.isdigit() or word.text == "-")):
            into.append(word.text)
            if word.glob:  # bash expands a redirection's pattern when it names one file
                (command.globbed if command is not None else reading.globbed).add(word.text)
            if ">" in operator:  # >, >>, >|, &>, &>>, >& a file: written (created or replaced)
                (command.writes if command is not None else reading.writes).append(word.text)
                if command is not None and ">>" not in operator and "<" not in operator:
                    command.truncates.append(word.text)
    for child in node.children:
        if child.type == "heredoc_body" or (
            node.type == "herestring_redirect" and child.is_named and child != destination
        ):
            script = _word(child, reading) if node.type == "herestring_redirect" else None
            if node.type == "heredoc_redirect":
                has_expansion = any(c.type in _EXPANSIONS for c in child.children)
                script = None if has_expansion else Word(_text(child))
            if command is not None and script is not None:
                command.stdin_script = script.text
            _walk_substitutions(child, reading)
        elif child.type.endswith("_redirect"):
            _redirect(child, into, command, reading)
        elif child != destination:
            _walk_substitutions(child, reading)


def _walk_substitutions(node, reading: ShellReading) -> None:
    """The commands inside $(…), `…` and <(…) of a word: they run before the word is used."""
    if node.type in ("command_substitution", "process_substitution"):
        for child in node.children:
            _walk(child, reading)
        return
    for child in node.children:
        _walk_substitutions(child, reading)


def _word(node, reading: ShellReading) -> Word | None:
    """The word as the program receives it, or None when it depends on the run (expansions)."""
    _walk_substitutions(node, reading)
    parts = _pieces(node)
    if parts is None:
        return None
    text = "".join(p for p, _ in parts)
    shape = "".join(p if unquoted else "_" * len(p) for p, unquoted in parts)
    if _BRACE.search(shape):
        reading.doubts.append(f"the word {_text(node)!r} uses brace expansion")
    return Word(text, glob=bool(_GLOB.search(shape)))


def _pieces(node) -> list[tuple[str, bool]] | None:
    """(text, unquoted) pieces of a word, or None when a piece is expanded at run time."""
    kind = node.type
    if kind in _EXPANSIONS:
        return None
    if kind in ("word", "number", "variable_name", "heredoc_start"):
        return [(_unescape(_text(node)), True)]
    if kind == "raw_string":
        return [(_text(node)[1:-1], False)]
    if kind == "ansi_c_string":
        text = _ansi_c(_text(node)[2:-1])
        return None if text is None else [(text, False)]
    if kind in ("string", "heredoc_body"):
        pieces: list[tuple[str, bool]] = []
        for child in node.children:
            if child.type in _EXPANSIONS:
                return None
            if child.type in ("string_content", "heredoc_content"):
                pieces.append((_unescape_quoted(_text(child)), False))
        return pieces if kind == "string" else [(_text(node), False)]
    if kind == "concatenation":
        out: list[tuple[str, bool]] = []
        for child in node.children:
            piece = _pieces(child)
            if piece is None:
                return None
            out.extend(piece)
        return out
    if kind in ("string_content",):
        return [(_text(node), False)]
    return None  # anything else (arrays, arithmetic, unknown grammar) is not a literal word


def _unescape(text: str) -> str:
    text = text.replace("\\\n", "")
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _unescape_quoted(text: str) -> str:
    text = text.replace("\\\n", "")
    return re.sub(r"\\([$`\"\\])", r"\1", text)


def _ansi_c(body: str) -> str | None:
    if not body.isascii():
        return None
    try:
        return codecs.decode(body, "unicode_escape")
    except UnicodeDecodeError:
        return None


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def _index(parent, child) -> int:
    return next(i for i, candidate in enumerate(parent.children) if candidate == child)
