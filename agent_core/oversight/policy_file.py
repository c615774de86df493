"""Loading the policy file (TOML): refused with the line and the reason when it is malformed."""

from __future__ import annotations

import hashlib
import os
import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from agent_core.oversight.policy import Policy, PolicyOrigin

DEFAULT_FILE = "onloop.toml"


class PolicyError(Exception):
    """The policy file cannot be used; nothing runs under it."""


def default_policy_text() -> str:
    return (
        resources.files("agent_core.oversight").joinpath("default_policy.toml").read_text("utf-8")
    )


def load_policy(path: str | os.PathLike | None = None) -> Policy:
    """The policy from `path`, else $ONLOOP_POLICY, else ./onloop.toml, else the shipped defaults."""
    if path is None:
        path = os.environ.get("ONLOOP_POLICY") or None
    if path is None:
        candidate = Path.cwd() / DEFAULT_FILE
        if not candidate.exists():
            return parse_policy(default_policy_text(), source="built-in defaults")
        path = candidate
    file = Path(path)
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PolicyError(
            f"cannot read policy file {file}: {why or exc}; pass --policy PATH to a "
            "readable TOML file"
        ) from exc
    origin = PolicyOrigin(path=os.path.abspath(file), sha256=file_digest(raw))
    return parse_policy(text, source=str(file), origin=origin)


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def changed_since(origin: PolicyOrigin | None) -> str | None:
    """One line when the policy file a run's policy came from differs now (or is gone)."""
    if origin is None:
        return None
    try:
        now = file_digest(Path(origin.path).read_bytes())
    except OSError:
        now = None
    if now == origin.sha256:
        return None
    state = "is gone" if now is None else "has changed"
    return (
        f"the policy file {origin.path} {state} since this run was queued; the run keeps the "
        "policy recorded then (a new run reads the file again)"
    )


def parse_policy(text: str, *, source: str, origin: PolicyOrigin | None = None) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: invalid TOML: {exc}") from exc
    except RecursionError:  # tomllib reads nested arrays and tables by recursion
        raise PolicyError(
            f"{source}: invalid TOML: arrays or tables nested too deeply to read; a policy file "
            "needs a few levels at most"
        ) from None
    data.setdefault("classes", {})  # a file without the table gets the shipped one
    try:
        policy = Policy.model_validate({**data, "source": source, "origin": origin})
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:3]:
            where = _line_of(text, error["loc"]).lstrip(", ")
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"{where + ': ' if where else ''}{field}: {error['msg']}")
        raise PolicyError(f"{source}, {'; '.join(problems)}") from exc
    problem = policy.notifications().credentials_problem()
    if problem is not None:
        raise PolicyError(f"{source}, {problem}")
    return policy


def _line_of(text: str, loc: tuple) -> str:
    """The line where the offending entry starts, best effort: a [[rules]] block or a key."""
    lines = text.splitlines()
    if loc and loc[0] == "rules" and len(loc) > 1 and isinstance(loc[1], int):
        seen = -1
        for number, line in enumerate(lines, start=1):
            if line.strip().startswith("[[rules]]"):
                seen += 1
                if seen == loc[1]:
                    key = str(loc[2]) if len(loc) > 2 else None
                    return f", line {_key_line(lines, number, key)}"
    key = str(loc[-1]) if loc else ""
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith(key):
            return f", line {number}"
    return ""


def _key_line(lines: list[str], block_start: int, key: str | None) -> int:
    if key is None:
        return block_start
    for number in range(block_start, len(lines) + 1):
        stripped = lines[number - 1].strip()
        if number > block_start and stripped.startswith("["):
            break
        if stripped.split("=")[0].strip() == key:
            return number
    return block_start
