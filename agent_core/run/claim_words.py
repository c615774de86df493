"""What a final answer says it did, read from its words: the files it says it created, changed
or deleted ("Updated README.md", "report.md has been written", "Deleted old.log"), and whether
it only announces work still to come ("I will now run the tests"). Negated or hedged sentences
("could not update README.md", "no tests failed") claim nothing; a file named only as a source
("based on notes.md") is not claimed written."""

from __future__ import annotations

import re

from agent_core.run.goal_asks import FILE_NAME

_CHANGED = (
    r"creat(?:ed|ing)|wr(?:ote|itten)|sav(?:ed)|updat(?:ed)|chang(?:ed)|modifi(?:ed)|edit(?:ed)|"
    r"add(?:ed)|generat(?:ed)|rewr(?:ote|itten)|append(?:ed)|fix(?:ed)|patch(?:ed)|renam(?:ed)"
)
_DELETED = r"delet(?:ed)|remov(?:ed)"
# A file name, or a dotfile (.flake8, .env), never a bare extension (".py files").
_EXTENSIONS = "py|js|ts|md|txt|json|ya?ml|csv|html?|css|go|rs|java|sh|toml|cfg|ini|log|tmp"
_DOTFILE = rf"\.(?!(?:{_EXTENSIONS})\b)[A-Za-z][\w.-]{{2,}}"
_FILE = rf"(?<![\w/.:-])({FILE_NAME}|{_DOTFILE})(?![\w/-])(?!\s+files?\b)"
# "Updated README.md", "added a test to test_calc.py": a verb, up to six words, the file.
_VERB_THEN_FILE = re.compile(
    rf"\b(?:{_CHANGED})\b((?:\s+(?!from\b|based\b|using\b|with\b|after\b|by\b|reading\b)"
    rf"[\w()'`\"-]+){{0,6}}?)\s+(?:the\s+)?(?:file\s+)?`?{_FILE}",
    re.I,
)
_FILE_THEN_VERB = re.compile(
    rf"`?{_FILE}`?\s+(?:was|were|has been|have been|is now|is)\s+(?:now\s+)?"
    rf"(?:(?:{_CHANGED})|({_DELETED}))\b",
    re.I,
)
_DELETE_FILES = re.compile(
    rf"\b(?:{_DELETED})\s+(?:the\s+)?(?:files?\s+)?`?{_FILE}`?((?:\s*(?:,|and|, and)\s*`?"
    rf"(?:{FILE_NAME})`?)*)(?!\s+from)",
    re.I,
)
_NAMES = re.compile(_FILE)
# A clause that says something was not done, or not yet.
_HEDGED = re.compile(
    r"\b(not|n't|never|no|unable|cannot|could\s?n[o']t|failed to|without|will|would|should|"
    r"shall|going to|need to|needs to|try to|plan to|next)\b",
    re.I,
)
_CLAUSES = re.compile(r"(?<=[.;!?])\s+|\n+|,\s*(?:but|and|so)\s+|\s+but\s+|;\s*")
_ANNOUNCES = re.compile(
    r"^(?:(?:ok(?:ay)?|now|next|great|alright|sure|first|then)[,.!:]?\s+)*"
    r"(?:i\s+will|i'll|i\s+am\s+going\s+to|i'm\s+going\s+to|let\s+me(?!\s+know)|let's|i\s+need\s+to|"
    r"i\s+should|i\s+am\s+about\s+to|i'm\s+about\s+to|next,?\s+i)\b",
    re.I,
)
# Words that report work done: an answer holding one is not only an announcement.
_DONE = re.compile(
    r"\b(done|fixed|created|updated|wrote|written|added|removed|deleted|completed|finished|"
    r"passed|passes|ran|implemented|changed|saved|committed)\b",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def announces_work(text: str) -> str:
    """The answer's first sentence when it only says what the model will do next (and nothing
    it did: "Let me summarise: I fixed calc.py" reports work), else ""."""
    first = next((s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()), "")
    return first if _ANNOUNCES.match(first) and not _DONE.search(text) else ""


def admits_failure(text: str) -> bool:
    """Whether the answer says something was not done or not found ("There is no config.yaml")."""
    return _HEDGED.search(text) is not None


def claimed_files(text: str) -> tuple[set[str], set[str]]:
    """(files the answer says it created or changed, files it says it deleted)."""
    changed: set[str] = set()
    deleted: set[str] = set()
    for clause in _CLAUSES.split(text):
        if not clause.strip() or _HEDGED.search(clause):
            continue
        gone = set()
        for match in _DELETE_FILES.finditer(clause):
            gone |= {match.group(1), *(n.group(1) for n in _NAMES.finditer(match.group(2)))}
        for match in _FILE_THEN_VERB.finditer(clause):
            (deleted if match.group(2) else changed).add(match.group(1))
        deleted |= gone
        changed |= {m.group(2) for m in _VERB_THEN_FILE.finditer(clause)} - gone
    return changed - deleted, deleted


_PHRASES = re.compile(r"[.;!?,:]\s+|\n+|\s+but\s+")  # "all 2 passed, no tests failed": two
_TESTS_PASS = re.compile(
    r"\b(?:all\s+)?(?:(\d+)\s+)?(?:of\s+the\s+)?(?:unit\s+|the\s+)?tests?\s+(?:now\s+|all\s+)?"
    r"(?:pass(?:ed|es)?|succeed(?:ed|s)?|(?:are|were)\s+(?:all\s+)?(?:passing|green))\b",
    re.I,
)


def says_tests_passed(text: str) -> tuple[bool, int | None]:
    """Whether the answer says tests passed ("all 12 tests passed", "the tests pass now"), and
    the count it gives; negated and hedged sentences say nothing ("could not run the tests")."""
    for clause in _PHRASES.split(text):
        match = _TESTS_PASS.search(clause)
        if match is not None and not _HEDGED.search(clause):
            return True, int(match.group(1)) if match.group(1) else None
    return False, None
