"""What a goal asks for, read from its words: an answer or an action, files to write, how many
files to go through, code to fix. The checks of a claim of success (claim_checks.py) hold what a
run did against it; a reading that finds nothing asks nothing of the run, so an unusual wording
errs toward letting a claim stand."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A goal opening with one of these is a question (or asks for words only, not for work); an
# auxiliary opening one only with a question mark ("Do the tests pass?", not "Do a cleanup").
_QUESTION_WORDS = frozenset(
    "what why how when where which who whom whose explain describe define tell say compose".split()
)
_AUXILIARIES = frozenset(
    "is are am was were do does did can could should would will shall may might has have had".split()
)
_POLITE = re.compile(r"^(?:please\s+)?(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?(\w+)")
# Work that takes tools whatever its object; and verbs that take tools only when their object
# is in the workspace ("write hello.py", "summarise the files"; not "write a poem").
_ACTION_WORDS = frozenset(
    "fix repair delete remove rename move copy run install update edit append prepend modify "
    "implement refactor save fetch download build deploy commit patch merge migrate upgrade "
    "configure setup initialise initialize compile lint test clean scan archive compress backup "
    "read extract search inspect parse process tidy organise organize replace insert strip trim "
    "normalise normalize debug cleanup".split()
)
_SOFT_WORDS = frozenset(
    "write create make generate produce draft list summarise summarize translate rewrite convert "
    "count find review analyse analyze check verify add change correct export import format sort "
    "collect gather resolve".split()
)
_WORKSPACE_WORDS = re.compile(
    r"\b(files?|folders?|director(y|ies)|workspace|repo(sitory)?|project|code|scripts?|tests?|"
    r"build|bugs?|functions?|class(es)?|modules?|packages?|pages?|site|urls?|commands?|shell|"
    r"server|database|logs?|config(uration)?|https?://\S+)\b",
    re.I,
)
# Verbs whose objects are changed (each file written), not only read.
_CHANGE_WORDS = frozenset(
    "add append prepend fix update edit rename format rewrite change insert replace lowercase "
    "uppercase strip trim sort normalise normalize annotate modify tag number correct patch".split()
)
_DELETE_WORDS = frozenset({"delete", "remove"})
# A verb, not a noun: "Commit the fix" asks for no change to code.
_CODE_FIX = re.compile(
    r"(?<!\bthe )(?<!\ba )(?<!\bthis )(?<!\bthat )(?<!\bmy )(?<!\byour )(?<!\bour )"
    r"\b(fix|repair|implement|correct|patch|resolve|debug)\b|\bmake\b.{0,40}\bpass\b",
    re.I,
)
_CODE_CHANGE = re.compile(r"\b(add|update|change|refactor|handle|support|rewrite|modify)\b", re.I)
_ABOUT_CODE = re.compile(
    r"\b(code|bug|tests?|functions?|class(es)?|methods?|scripts?|modules?)\b|"
    r"\.(py|js|ts|go|rs|java|c|cpp|rb|sh)\b",
    re.I,
)
# A goal about comments, docs or layout may rightly change nothing but those.
_NOT_CODE = re.compile(
    r"\b(comments?|docstrings?|document(ation)?|whitespace|indent\w*|format\w*|typos?|lint\w*|"
    r"style|spelling|licen[cs]e header)\b",
    re.I,
)
FILE_NAME = r"(?:[\w-]+/)*[\w][\w.-]*\.[A-Za-z][A-Za-z0-9]{0,7}"
_FILE = re.compile(rf"(?<![\w/.:-])({FILE_NAME})(?![\w/-])")
_GAP = r"(?:\s+(?!of\b|from\b|in\b|on\b|about\b|for\b|with\b|by\b|and\b)[\w-]+){0,3}?"
_OUTPUT = [
    re.compile(rf"\b(?:into|as)\s+(?:(?:a|an|the|new|file|called|named)\s+)*({FILE_NAME})", re.I),
    re.compile(
        rf"\b(?:create|write|save|generate|produce|export|output){_GAP}\s+({FILE_NAME})", re.I
    ),
    re.compile(rf"\b(?:called|named)\s+({FILE_NAME})", re.I),
]
_TO_OUTPUT = re.compile(rf"\bto\s+(?:(?:a|an|the|new|file)\s+)*({FILE_NAME})", re.I)
_COMPARING = re.compile(r"\b(compare|diff|similar|equal|equivalent|match(es)?|same as)\b", re.I)
_NUMBERS = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_TYPE = r"(?:\s+(?!files?\b)[\w.*-]+){0,2}?"
_COUNT = re.compile(rf"\b(\d{{1,4}}|{'|'.join(_NUMBERS)}|both)({_TYPE})\s+files?\b", re.I)
_EVERY = re.compile(rf"\b(all|each|every)\b(?:\s+(?:of|the))*({_TYPE})\s+files?\b", re.I)
_SCOPE = re.compile(
    r"\bfiles?\s+(?:that\s+are\s+)?(?:in|under|inside|within|from)\s+(?:the\s+)?"
    r"([\w.-]+(?:/[\w.-]+)*/?)(?:\s+(?:folder|directory|dir)\b)?",
    re.I,
)
_WHOLE = frozenset({"workspace", "repo", "repository", "project", "current", "folder", "directory"})
_NOT_FOLDERS = frozenset(
    [*_NUMBERS, "a", "an", "one", "order", "turn", "turns", "time", "place", "parallel",
     "sequence", "batch", "batches", "bulk", "total", "all", "each", "place", "memory"]
)  # fmt: skip
_KINDS = {
    "python": (".py",),
    "markdown": (".md", ".markdown"),
    "text": (".txt",),
    "csv": (".csv",),
    "json": (".json",),
    "javascript": (".js",),
    "typescript": (".ts",),
    "yaml": (".yaml", ".yml"),
    "html": (".html", ".htm"),
    "log": (".log",),
    "go": (".go",),
    "rust": (".rs",),
    "java": (".java",),
    "shell": (".sh",),
}


@dataclass(frozen=True)
class GoalAsks:
    question: bool  # answered in words: a text-only first reply may end the run
    action: bool  # asks for work that takes tools
    outputs: tuple[str, ...]  # files the goal asks to write ("into report.md")
    count: int | None  # "the 5 files"
    every: bool  # "all files", "each file", "every file"
    folder: str | None  # the files' folder ("all files in docs/"); None: the whole workspace
    suffixes: tuple[str, ...]  # the files' kinds (".py"), empty: any
    changes_each: bool  # the files are to be changed, not only read
    deletes_each: bool  # the files are to be deleted
    code_fix: bool  # a change to code is asked for: comments alone do not do it
    named: tuple[str, ...]  # every file name the goal mentions


def _base(word: str) -> str:
    """A verb's base form when an -ing, -ed or -s form of a known verb ("renaming" -> rename)."""
    known = _ACTION_WORDS | _SOFT_WORDS | _CHANGE_WORDS | _DELETE_WORDS
    if word in known:
        return word
    for cut, add in (("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"), ("d", ""), ("es", ""),
                     ("s", "")):  # fmt: skip
        if word.endswith(cut) and word[: -len(cut)] + add in known:
            return word[: -len(cut)] + add
    return word


def read_goal(goal: str) -> GoalAsks:
    text = " ".join(goal.split())
    words = [_base(w) for w in re.findall(r"[a-z]+", text.lower())]
    named = tuple(dict.fromkeys(m.group(1) for m in _FILE.finditer(text)))
    outputs = _outputs(text)
    verbs = set(words[:12])
    first = next((w for w in words if w in _ACTION_WORDS | _SOFT_WORDS | _CHANGE_WORDS), "")
    count, every, suffixes = _how_many(text)
    works = bool(
        outputs
        or named
        or verbs & _ACTION_WORDS
        or (verbs & (_SOFT_WORDS | _CHANGE_WORDS) and _WORKSPACE_WORDS.search(text))
    )
    question = _is_question(text, words)
    return GoalAsks(
        question=question,
        action=not question and works,
        outputs=outputs,
        count=count,
        every=every,
        folder=_folder(text),
        suffixes=suffixes,
        changes_each=first in _CHANGE_WORDS | _DELETE_WORDS,
        deletes_each=first in _DELETE_WORDS,
        code_fix=_code_fix(text),
        named=named,
    )


def _is_question(text: str, words: list[str]) -> bool:
    """A question, or a goal that asks for words only; never a polite request for work ("Can
    you fix calc.py?")."""
    polite = _POLITE.match(text.lower())
    if polite and polite.group(1) in _ACTION_WORDS | _SOFT_WORDS | _CHANGE_WORDS:
        return False
    lead = [w for w in words[:4] if w not in ("please", "now", "then", "just", "kindly")]
    opening = lead[0] if lead else ""
    asked = text.rstrip().endswith("?")
    return asked or opening in _QUESTION_WORDS or (opening in _AUXILIARIES and asked)


def _code_fix(text: str) -> bool:
    """A change to code is asked for (a fix; an addition or update to code), not to its
    comments, docs or layout."""
    if _NOT_CODE.search(text):
        return False
    return bool(_CODE_FIX.search(text) or (_CODE_CHANGE.search(text) and _ABOUT_CODE.search(text)))


def _outputs(text: str) -> tuple[str, ...]:
    found = [m.group(1) for pattern in _OUTPUT for m in pattern.finditer(text)]
    if not _COMPARING.search(text):
        found += [m.group(1) for m in _TO_OUTPUT.finditer(text)]
    return tuple(sorted(set(found), key=text.find))


def _how_many(text: str) -> tuple[int | None, bool, tuple[str, ...]]:
    count = None
    kind = ""
    if (match := _COUNT.search(text)) is not None:
        word = match.group(1).lower()
        count = 2 if word == "both" else int(word) if word.isdigit() else _NUMBERS[word]
        kind = match.group(2)
    every = _EVERY.search(text)
    if every is not None:
        kind = kind or every.group(2)
    return count or None, every is not None, _suffixes(kind)


def _suffixes(kind: str) -> tuple[str, ...]:
    found: list[str] = []
    for word in kind.lower().split():
        if re.fullmatch(r"\*?\.[a-z0-9]{1,8}", word):
            found.append(word.lstrip("*"))
        found.extend(_KINDS.get(word.strip(".,"), ()))
    return tuple(dict.fromkeys(found))


def _folder(text: str) -> str | None:
    match = _SCOPE.search(text)
    if match is None:
        return None
    folder = match.group(1).strip("./") or None
    if folder is None or folder.lower() in _WHOLE or _FILE.fullmatch(folder):
        return None
    if "/" not in match.group(0) and folder.lower() in _NOT_FOLDERS:
        return None  # "files in one turn", "files in order": words, not a folder
    return folder
