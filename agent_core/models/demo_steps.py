"""What the demo model's plans read and return: the tool results so far, and the next step."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

GUIDANCE_PREFIX = "Guidance from a human: "


@dataclass(frozen=True)
class Exchange:
    """One tool call the model made and the result the loop sent back."""

    name: str
    args: dict
    output: str

    @property
    def outcome(self) -> str:
        if self.output.startswith("Error"):
            return "error"
        if self.output.startswith("Rejected by a human"):
            return "rejected"
        if self.output.startswith("Denied by policy"):
            return "denied"
        return "ok"

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def ran(self) -> dict:
        """The arguments that really ran: a person's edit (the loop says so) or the model's own."""
        match = re.search(
            r"\n\n\[a person edited the arguments .*?; what ran: [\w.-]+\((\{.*\})\)\]\Z",
            self.output,
            re.S,
        )
        if match:
            try:
                edited = json.loads(match.group(1))
            except ValueError:
                return self.args
            return edited if isinstance(edited, dict) else self.args
        return self.args

    @property
    def note(self) -> str:
        """The human's note on a rejection (the text after the first colon), else ""."""
        _, colon, rest = self.output.partition(":")
        return rest.strip() if colon and self.outcome == "rejected" else ""


@dataclass(frozen=True)
class Transcript:
    """The conversation as the demo model sees it: goal, tool results, guidance, offered tools."""

    goal: str
    exchanges: tuple[Exchange, ...]
    guidance: tuple[str, ...]
    new_guidance: tuple[str, ...]  # arrived since the model last spoke
    offered: frozenset[str]

    def calls(self, name: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.name == name]

    def texts_read(self) -> dict[str, str]:
        """What each successful read_file returned, by path."""
        return {str(e.args.get("path")): e.output for e in self.calls("read_file") if e.ok}


@dataclass(frozen=True)
class Call:
    """Call one tool next; `fallback` is the answer to give if the run doesn't offer the tool."""

    text: str
    tool: str
    args: dict
    fallback: str = ""


@dataclass(frozen=True)
class Final:
    text: str
    goal_met: bool = True  # said through the finish tool when False: the demo reports honestly


Step = Call | Final

_PATH = re.compile(r"[\w.\-]+(?:[ /][\w.\-]+)*/?")  # single spaces allowed: "my notes.md"


def listed_paths(output: str, base: str = ".") -> list[str]:
    """The entries a list_files result names, relative to the workspace; folders end with "/"."""
    base = base.strip("/")
    paths: list[str] = []
    for line in output.splitlines():
        entry = _entry(line)
        if entry is None:
            continue
        if base not in ("", ".") and not entry.startswith(base + "/"):
            entry = f"{base}/{entry}"
        if entry not in paths:
            paths.append(entry)
    return paths


def _entry(line: str) -> str | None:
    text = line.strip().lstrip("-*• ")
    # list_files writes "<path>  <size>"; other shapes fall back to the first path-like word.
    for token in [re.split(r"\s{2,}|\t", text)[0], *text.split()]:
        if _PATH.fullmatch(token) and ("." in token.strip(".") or token.endswith("/")):
            return token[2:] if token.startswith("./") else token
    return None


def files_in(paths: list[str]) -> list[str]:
    return [p for p in paths if not p.endswith("/")]


def top_level(path: str) -> bool:
    return "/" not in path.rstrip("/")


def name_of(path: str) -> str:
    return PurePosixPath(path).name


def quote(text: str, limit: int = 120) -> str:
    """A short one-line rendering of a tool output or note for reasoning text."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def other_name(note: str, suffix: str, avoid: list[str]) -> str | None:
    """A file name with `suffix` that a rejection note asks for instead (e.g. "call it x.md").

    Names in `avoid` (ones already tried, files that exist) are skipped: "leave README.md alone"
    must not become a write to README.md.
    """
    for found in re.findall(rf"[\w\-/]+{re.escape(suffix)}\b", note):
        if found not in avoid and ".." not in found:
            return found
    return None


def failure_reason(exchange: Exchange) -> str:
    """Why a tool call did not happen or failed, in words for a final answer."""
    if exchange.outcome == "rejected":
        return "you rejected it" + (f' ("{quote(exchange.note)}")' if exchange.note else "")
    if exchange.outcome == "denied":
        match = re.match(r"Denied by policy\s*(?:\(([^)]*)\))?\s*:?\s*(.*)", exchange.output, re.S)
        rule, why = (match.group(1), match.group(2)) if match else (None, "")
        detail = "; ".join(x for x in (f"rule {rule}" if rule else "", quote(why)) if x)
        return "the policy denied it" + (f" ({detail})" if detail else "")
    return f"it failed: {quote(exchange.output.removeprefix('Error:').strip())}"
