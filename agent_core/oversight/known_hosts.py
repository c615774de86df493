"""Hosts the project itself names, read once when a run starts: a request to one of them is not
"egress to a new host".

A host counts when the run's goal or a file the workspace held before the agent acted names it
(a link in the notes, the git remote, the registry its package manifest implies). Files the agent
writes later never add one: a page it fetched cannot teach the policy a host to send data to. Nor
do files an earlier run's agent may have written in the same folder (a person's own folder, used
by run after run): a file changed since the first run there (its ctime, which no program can set
back) names no host for the next run; the goal, or a person's approval, still does.
Only plain reads are eased by this (fetch_url); sending data (`curl -d`, uploads) is always the
network class.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from agent_core.tools.host_names import url_host

MAX_FILES = 2_000  # files looked at per workspace; the rest are not scanned
MAX_BYTES = 64 * 1024  # bytes read per file
MAX_TOTAL = 8 * 1024 * 1024  # bytes read per workspace
_URL = re.compile(r"\bhttps?://[^\s\"'<>()\[\]{}`\\]+", re.IGNORECASE)
_SCP_REMOTE = re.compile(r"^\s*url\s*=\s*[\w.-]+@([\w.-]+):", re.MULTILINE)  # git@host:org/repo
_SKIPPED = frozenset({"node_modules", ".venv", "venv", "__pycache__", ".tox", "dist", "build"})
# A manifest implies the registry its packages come from.
_REGISTRIES: dict[str, tuple[str, ...]] = {
    "requirements.txt": ("pypi.org", "files.pythonhosted.org"),
    "pyproject.toml": ("pypi.org", "files.pythonhosted.org"),
    "setup.py": ("pypi.org", "files.pythonhosted.org"),
    "setup.cfg": ("pypi.org", "files.pythonhosted.org"),
    "Pipfile": ("pypi.org", "files.pythonhosted.org"),
    "package.json": ("registry.npmjs.org", "www.npmjs.com"),
    "Cargo.toml": ("crates.io", "static.crates.io"),
    "go.mod": ("proxy.golang.org", "pkg.go.dev"),
    "Gemfile": ("rubygems.org",),
}


def hosts_in_text(text: str) -> set[str]:
    """Hosts of the http(s) links in `text`, canonical (lower case, no port, IDNA)."""
    found = {url_host(m.group(0)) for m in _URL.finditer(text)}
    found |= {h.lower() for h in _SCP_REMOTE.findall(text)}
    return {h for h in found if h}


def project_hosts(
    root: Path | None, goal: str = "", *, agents_since: float | None = None
) -> dict[str, str]:
    """host -> where the project names it ("the goal", "README.md", "requirements.txt (the
    registry it implies)"); at most MAX_FILES files, MAX_BYTES of each, MAX_TOTAL in all.
    `agents_since` (seconds since the epoch): when an earlier run's agent first worked in this
    folder; a file changed since then is not the project's word."""
    named: dict[str, str] = {h: "the goal" for h in sorted(hosts_in_text(goal))}
    if root is None or not root.is_dir():
        return named
    budget = MAX_TOTAL
    for path in _files(root):
        if agents_since is not None and _changed_since(path, agents_since):
            continue
        relative = path.relative_to(root).as_posix()
        for host in _registries(path.name):
            named.setdefault(host, f"{relative} (the registry it implies)")
        if budget <= 0:
            continue
        try:
            with path.open("rb") as handle:
                data = handle.read(min(MAX_BYTES, budget))
        except OSError:
            continue
        budget -= len(data)
        if b"\0" in data[:1024]:
            continue  # not text
        text = data.decode("utf-8", errors="ignore")
        for host in sorted(hosts_in_text(text)):
            named.setdefault(host, relative)
    return named


def _changed_since(path: Path, moment: float) -> bool:
    try:
        return path.lstat().st_ctime >= moment
    except OSError:
        return True


def _registries(name: str) -> tuple[str, ...]:
    if name.startswith("requirements") and name.endswith((".txt", ".in")):  # requirements-dev.txt
        name = "requirements.txt"
    return _REGISTRIES.get(name, ())


def _files(root: Path):
    """Regular files under root (never following links), .git/config included, at most MAX_FILES."""
    count = 0
    config = root / ".git" / "config"
    if config.is_file() and not config.is_symlink():
        count += 1
        yield config
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED and not d.startswith(".git"))
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            count += 1
            if count > MAX_FILES:
                return
            yield path
