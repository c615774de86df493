"""A run's workspace: the one folder its tools may touch, and the gate every path goes through."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from agent_core.tools.errors import OwnFileRefused, WorkspaceEscape
from agent_core.tools.protected import Protected

_FIX = "use a path relative to the workspace"


@dataclass(frozen=True)
class Workspace:
    root: Path
    protected: Protected = field(default_factory=Protected)  # onloop's own files for this run

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @cached_property
    def real_root(self) -> Path:
        """The root with symlinks resolved, once (at its first use): every path must end up under
        it. A root swapped for a link afterwards does not move the workspace: every path is still
        resolved in full and must end up under the folder the run began in."""
        return Path(os.path.realpath(self.root))

    def resolve(self, relative: str) -> Path:
        """The path inside the workspace that `relative` names; WorkspaceEscape if it leaves it.

        Refused: absolute paths, '~', any '..' component, and paths whose real location (after
        following symlinks) is outside the workspace. The returned path keeps the last component
        unresolved, so deleting a symlink removes the link, not what it points to. (A symlink
        created between this check and its use could still redirect it; tools run one at a time.)
        """
        if not isinstance(relative, str):
            raise WorkspaceEscape(f"path must be a string, not {type(relative).__name__}; {_FIX}")
        if "\x00" in relative:
            raise WorkspaceEscape(f"path {relative!r} contains a NUL character; {_FIX}")
        text = relative.strip() or "."
        if os.path.isabs(text) or text.startswith("~"):
            raise WorkspaceEscape(
                f"path {relative!r} is outside the run's workspace (absolute paths are not "
                f"allowed); {_FIX}"
            )
        if ".." in PurePosixPath(text.replace("\\", "/")).parts:
            raise WorkspaceEscape(f"path {relative!r} is outside the run's workspace; {_FIX}")
        root = self.real_root
        candidate = root / text
        real = Path(os.path.realpath(candidate))
        if real != root and not real.is_relative_to(root):
            raise WorkspaceEscape(
                f"path {relative!r} leads outside the run's workspace through a symlink; {_FIX}"
            )
        # Normalise "a/./b" and trailing slashes without touching symlinks in the last component.
        return Path(os.path.normpath(candidate))

    def writable(self, relative: str) -> Path:
        """`resolve` for a path a tool will write, rename or delete: OwnFileRefused when it is
        one of onloop's own files (by its name, or where a link leads). Your own tools that
        write take their path from here, so the model cannot lead them to a policy file."""
        path = self.resolve(relative)
        self.refuse_own(path, relative)
        return path

    def refuse_own(self, target: Path, given: str) -> None:
        """OwnFileRefused if writing `target` (as resolved) would write one of onloop's files."""
        what = self.protected.why(target)
        if what is not None:
            raise OwnFileRefused(
                f"{given!r} is {what}: one of onloop's own files, which no tool may write, "
                "delete or replace; write to another file"
            )

    def display(self, path: Path | str) -> str:
        """A path as the model should see it: relative to the workspace, '.' for the root."""
        path = Path(path)
        for base in (self.real_root, Path(os.path.abspath(self.root))):
            if path == base:
                return "."
            if path.is_relative_to(base):
                return path.relative_to(base).as_posix()
        return path.as_posix()

    def scrub(self, text: str) -> str:
        """Text with the workspace's absolute location removed, so messages show relative paths."""
        bases = {str(self.real_root), os.path.abspath(self.root)}
        for base in sorted(bases, key=len, reverse=True):  # longer first: one may contain the other
            text = text.replace(base + os.sep, "")
            text = re.sub(re.escape(base) + r"(?![\w.-])", ".", text)
        return text
