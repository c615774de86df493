"""Whether a change to a code file touched the code at all, or only its comments and layout:
both versions are reduced to their code tokens (comments, docstrings and whitespace left out)
and compared. A file whose language is not known here never counts as comment-only."""

from __future__ import annotations

import io
import posixpath
import re
import tokenize

_C_LIKE = frozenset(
    "js jsx ts tsx mjs cjs java c h cc cpp cxx hpp hh go rs cs kt kts swift scala php dart".split()
)
_HASH = frozenset("sh bash zsh rb pl r ps1 toml".split())
CODE_SUFFIXES = frozenset({"py", "pyi", *_C_LIKE, *_HASH, "lua", "sql"})
_TOKEN = re.compile(r"\w+|[^\w\s]")
_STRING_OR_COMMENT = {
    "c": re.compile(
        r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|//[^\n]*|/\*.*?\*/""", re.S
    ),
    "hash": re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|#[^\n]*"""),
    "dash": re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|--[^\n]*"""),
}


def is_code(path: str) -> bool:
    return _suffix(path) in CODE_SUFFIXES


def only_comments(path: str, old: str, new: str) -> bool:
    """True when `new` differs from `old` in comments, docstrings or whitespace only."""
    if old == new:
        return False
    before, after = code_tokens(path, old), code_tokens(path, new)
    return before is not None and before == after


def code_tokens(path: str, text: str) -> list[str] | None:
    """The code of `text` as a list of tokens, or None when it cannot be read."""
    suffix = _suffix(path)
    if suffix in ("py", "pyi"):
        return _python_tokens(text)
    style = "c" if suffix in _C_LIKE else "hash" if suffix in _HASH else None
    style = "dash" if suffix in ("lua", "sql") else style
    if style is None:
        return None
    kept = _STRING_OR_COMMENT[style].sub(lambda m: m.group(1) or " ", text)
    return _TOKEN.findall(kept)


# A docstring or bare string on lines of its own, and a comment: what quick_code_tokens drops.
_PY_DOCSTRING = re.compile(r"""^[ \t]*[rRuU]?(\"\"\"|\'\'\')(?:.|\n)*?\1[ \t]*$""", re.M)


def quick_code_tokens(path: str, text: str) -> list[str] | None:
    """code_tokens at a regex's cost, for a check made on every call (the drift monitors): a
    Python file's docstrings are dropped when they stand on lines of their own, its comments by
    the `#` rule; other languages as code_tokens reads them."""
    if _suffix(path) not in ("py", "pyi"):
        return code_tokens(path, text)
    kept = _STRING_OR_COMMENT["hash"].sub(lambda m: m.group(1) or " ", _PY_DOCSTRING.sub(" ", text))
    return _TOKEN.findall(kept)


def _python_tokens(text: str) -> list[str] | None:
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
    try:
        found = [
            t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in skip
        ]
    except (tokenize.TokenError, SyntaxError):
        return None
    layout = (tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE)
    tokens: list[str] = []
    previous, index = tokenize.NEWLINE, 0
    while index < len(found):
        token = found[index]
        following = found[index + 1].type if index + 1 < len(found) else None
        if token.type == tokenize.STRING and previous in layout and following == tokenize.NEWLINE:
            index += 2  # a docstring (or a bare string) and its line end: no code
            continue
        previous = token.type
        tokens.append(tokenize.tok_name[token.type] if token.type in layout else token.string)
        index += 1
    return tokens


def _suffix(path: str) -> str:
    return posixpath.splitext(path)[1].lstrip(".").lower()
