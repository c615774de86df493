"""What a call observed, reduced to what matters for telling progress from repetition.

A tool's output carries things that change on every run of the same thing: timestamps, how long
it took, process ids, temporary paths, hex ids, terminal colours. `strip_volatile` removes those
and keeps every other number, because numbers often carry meaning ("3 failed" is not "2 failed",
"(try 3)" is not "(try 2)"). An error's signature goes further: its type, the failing tests or
exit code and the object it concerns, with positions (line, column, offset) and attempt counters
taken out, so the same failure in new clothes (new flags, a new tool name, a new position) is
recognised as the same failure.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
# (pattern, placeholder, needles): a pattern with needles runs only on a text holding one of
# them (most outputs have no port or thread name, and a regex pass costs a few µs).
_VOLATILE: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    # ISO and log timestamps, clock times
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
        "<time>",
        (),
    ),
    (re.compile(r"\b\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\b"), "<time>", ()),
    # durations: 0.52s, 3.1 s, 120ms, 2 minutes, 1m2s, "about 5 minutes ago"
    (
        re.compile(
            r"\b\d+(\.\d+)?[ \t]?(ms|µs|us|ns|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)"
            r"([ \t]?\d+(\.\d+)?[ \t]?(ms|s|sec|seconds?))?\b([ \t]+ago)?",
            re.I,
        ),
        "<duration>",
        (),
    ),
    # transfer rates and progress speeds: 1.2 MB/s, 870 kB/s, 35.1it/s
    (re.compile(r"\b\d+(\.\d+)?[ \t]?([kKMGT]i?B|[kKMG]?bit|B|it)/s\b"), "<rate>", ("/s",)),
    # process ids, and the names a runtime numbers its threads and tasks with (Thread-7, Task-12)
    (re.compile(r"\b(pid|PID|process)[ :=#]*\d+\b"), "<pid>", ("pid", "PID", "process")),
    (
        re.compile(r"\b(Thread|Task|Worker|ForkPoolWorker|SpawnPoolWorker|Dummy)-\d+\b"),
        r"\1-<n>",
        ("Thread-", "Task-", "Worker-", "Dummy-"),
    ),
    # temporary paths
    (
        re.compile(r"(/tmp|/var/tmp|/var/folders|/private/var/folders)/[^\s'\"]+"),
        "<tmp>",
        ("/tmp", "/var/", "/private/"),
    ),
    (re.compile(r"\btmp[a-z0-9_]{6,}\b", re.I), "<tmp>", ()),
    # ids and addresses
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<id>",
        (),
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<addr>", ("0x", "0X")),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", re.I), "<id>", ()),
    # generated ids: request, session and trace ids (req_8Fk2LmQ9), letters and digits in turn
    (
        re.compile(
            r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]{8,}(?![A-Za-z0-9]))[A-Za-z]*\d+[A-Za-z]+\d+\w*"
        ),
        "<id>",
        (),
    ),
    # a local port the system picked (32768 and up): a server started anew
    (
        re.compile(
            r"\b(localhost|127\.0\.0\.1|0\.0\.0\.0|::1)(['\"]?,\s*|\]?:)(3[2-9]\d{3}|[4-6]\d{4})\b"
        ),
        r"\1\2<port>",
        ("localhost", "127.0.0.1", "0.0.0.0", "::1"),
    ),
)
# Where a number says where in a file or input, not what happened.
_POSITION = re.compile(
    r"\b(line|lines|column|col|position|pos|offset|char|character|byte|index|row)(\s*[:=#]?\s*)"
    r"\d+(\s*[-–,:]\s*\d+)?",
    re.I,
)
_FILE_POSITION = re.compile(r"(\.[A-Za-z0-9]{1,6}):\d+(:\d+)?\b")
# An attempt counter: "(try 3)", "attempt 2 of 5", "retry 4/10", "retries left: 2".
_ATTEMPT = re.compile(
    r"\b(try|attempt|retry|retrying|retries left|tries left)\s*(#|no\.?|number)?\s*[:=]?\s*(\d+)"
    r"(\s*(/|of)\s*\d+)?",
    re.I,
)
_UNKNOWN_TOOL = re.compile(
    r"(unknown|no such|not a|invalid|unrecognised|unrecognized|undefined)\s+(tool|command|function|"
    r"action)\s*[:=]?\s*['\"`]?[\w.:-]+['\"`]?",
    re.I,
)
_EXIT = re.compile(r"\Aexit code (-?\d+)\b")
_FAILED_TEST = re.compile(
    r"^(?:FAILED|ERROR)\s+(\S+::\S+)|^(\S+::\S+)\s+(?:FAILED|ERROR)\b|^(?:FAIL|ERROR):\s+(test\w*)"
    r"|^--- FAIL:\s+(\S+)|^\s*(?:FAIL|✕|×)\s+(\S+\.\w+)",
    re.M,
)
_ERROR_TYPE = re.compile(r"\b([A-Z][A-Za-z0-9_]*(?:Error|Exception|Failure|Fault))\b")
_ERROR_LINE = re.compile(
    r"error|fail|exception|denied|refused|not found|no such|fatal|cannot|can't|unable|invalid|"
    r"unknown|timed? ?out|unauthori[sz]ed|forbidden",
    re.I,
)
# Lines that say nothing about what happened: the shell tool's own framing.
_BOILERPLATE = re.compile(
    r"^(exit code -?\d+|--- (stdout|stderr) ---|\(no output\)|\[(stdout|stderr) truncated.*\])$"
)
# Programs for which exit 1 is an answer (no match, a difference), not a failure.
_EXIT_ONE_ANSWERS = re.compile(
    r"^\s*(grep|egrep|fgrep|rg|ag|ack|diff|cmp|test|\[|git\s+diff|git\s+grep|pgrep|which)\b"
)
_LAST_COMMAND = re.compile(r"(?:.*(?:;|&&|\|\||\|))?(.*)\Z", re.S)
RESULT_CAP = 64_000  # characters of an output that signatures look at
LINE_CAP = 300  # characters of one line, for line novelty
LINES_CAP = 400  # lines of one output, for line novelty (the first and last halves)


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=10).hexdigest()


def normalise_arguments(arguments: Any) -> str:
    """Arguments as canonical text, so {"a":1,"b":2} and {"b": 2, "a": 1} count as the same call."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return " ".join(arguments.split())
    if isinstance(arguments, dict):
        arguments = {
            k: (" ".join(v.split()) if isinstance(v, str) else v) for k, v in arguments.items()
        }
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)


def parsed_arguments(arguments: Any) -> dict[str, Any]:
    """The arguments as a dict (the model's raw JSON text parsed), {} when they are not one."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            return {}
    return arguments if isinstance(arguments, dict) else {}


def strip_volatile(text: str) -> str:
    """The text without what differs between two runs of the same thing; numbers stay."""
    text = _ANSI.sub("", text[:RESULT_CAP])
    for pattern, placeholder, needles in _VOLATILE:
        if not needles or any(needle in text for needle in needles):
            text = pattern.sub(placeholder, text)
    return text


# Arguments a tool's answer often repeats ("No results for 'x'", "404 Not Found: URL").
_ECHOED_KEYS = ("query", "q", "search", "search_query", "term", "terms", "keywords", "pattern",
                "url", "uri", "endpoint")  # fmt: skip


def without_echoes(output: str, arguments: dict[str, Any]) -> str:
    """The output with the call's own query or URL taken out: "No results for 'x'" and "No
    results for 'y'" say the same, as do a 404 on a URL and on its variant with a slash."""
    for key in _ECHOED_KEYS:
        value = arguments.get(key)
        if not isinstance(value, str):
            continue
        for echo in dict.fromkeys((value.strip(), value.strip().split("#")[0].rstrip("/"))):
            if len(echo) >= 3:
                output = output.replace(echo, "<asked>")
    return output


def result_signature(output: str, *, cleaned: bool = False) -> str:
    """`cleaned`: the output has been through strip_volatile already."""
    return digest(" ".join((output if cleaned else strip_volatile(output)).split()))


def content_lines(output: str, *, cleaned: bool = False) -> list[str]:
    """The output's lines that say something (the shell's framing left out), normalised and cut
    to LINES_CAP lines (its first and last halves, so growing output is seen where it grows)."""
    text = output if cleaned else strip_volatile(output)
    lines = [" ".join(line.split())[:LINE_CAP] for line in text.splitlines()]
    lines = [line for line in lines if line and not _BOILERPLATE.match(line)]
    if len(lines) > LINES_CAP:
        lines = lines[: LINES_CAP // 2] + lines[-LINES_CAP // 2 :]
    return lines


def exit_code(output: str) -> int | None:
    match = _EXIT.match(output)
    return int(match.group(1)) if match else None


def is_error(ok: bool, output: str, command: str | None = None) -> bool:
    """A failed call, or a command that ran and exited non-zero (the shell reports its exit), except
    exit 1 from programs where it is an answer (grep found nothing, diff found a difference)."""
    if not ok:
        return True
    code = exit_code(output)
    if code is None or code == 0:
        return False
    if code != 1 or command is None:
        return True
    last = _LAST_COMMAND.match(command)  # the exit code is the last command's
    return not _EXIT_ONE_ANSWERS.match(last.group(1) if last else command)


def attempt_of(text: str) -> int | None:
    """The attempt counter an output carries ("(try 3)" -> 3), if any."""
    match = _ATTEMPT.search(text)
    return int(match.group(3)) if match else None


def error_signature(output: str, tool: str = "", *, cleaned: bool = False) -> str:
    """What identifies a failure across its retellings: the failing tests and exit code when a
    test run failed, else the error's type and first error line, with positions, attempt counters
    and the name of an unknown tool taken out."""
    text = output if cleaned else strip_volatile(output)
    text = _ATTEMPT.sub(r"\1 <n>", text)
    text, unknown = _UNKNOWN_TOOL.subn(lambda m: f"{m.group(1)} {m.group(2)} <name>", text)
    if unknown:
        tool = ""  # the name tried is the model's, not a tool that ran
    text = _POSITION.sub(r"\1 <n>", text)
    text = _FILE_POSITION.sub(r"\1:<n>", text)
    code = exit_code(output)
    tests = sorted({next(g for g in m.groups() if g) for m in _FAILED_TEST.finditer(text)})
    if tests:
        return digest(f"tests {code} {' '.join(tests[:50])}")
    kinds = _ERROR_TYPE.findall(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line and not _BOILERPLATE.match(line)]
    first = next((line for line in lines if _ERROR_LINE.search(line)), lines[0] if lines else "")
    kind = kinds[-1] if kinds else ""
    return digest(f"{'exit ' + str(code) if code is not None else tool} {kind} {first[:300]}")
