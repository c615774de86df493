"""Run a shell command in a workspace: no secrets in its environment, bounded output and time."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

OUTPUT_CAP = 10_000  # bytes kept of stdout and of stderr: 20,000 in all
# Environment variables whose names contain one of these are never passed to a command.
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
SECRET_NAMES = ("ONLOOP_DATABASE_URL", "DATABASE_URL")  # a database URL can carry a password
_READ_CHUNK = 65_536
_DRAIN_SECONDS = 5.0  # how long to wait for output after the command's group is gone


@dataclass(frozen=True)
class ShellResult:
    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: int  # the full size, even where the text was cut at the cap
    stderr_bytes: int
    timed_out: bool


def scrubbed_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment minus anything that looks like a credential."""
    source = os.environ if environ is None else environ
    return {
        name: value
        for name, value in source.items()
        if name.upper() not in SECRET_NAMES
        and not any(marker in name.upper() for marker in SECRET_MARKERS)
    }


def run_command(command: str, *, cwd: Path, timeout_s: float, cap: int = OUTPUT_CAP) -> ShellResult:
    """Run `command` with /bin/sh in `cwd`; kill its whole process group when time runs out.

    The group is also killed after the shell exits, so a background process cannot outlive the
    call (nor keep its pipes open).
    """
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env=scrubbed_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so one killpg reaches every child
    )
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Capture(proc.stdout, cap), _Capture(proc.stderr, cap)
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc.pid)
        proc.wait()
    out.join(_DRAIN_SECONDS)
    err.join(_DRAIN_SECONDS)
    return ShellResult(
        exit_code=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        stdout_bytes=out.total,
        stderr_bytes=err.total,
        timed_out=timed_out,
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


class _Capture(threading.Thread):
    """Drain one pipe: keep the first `cap` bytes, count the rest, so a chatty command never
    blocks on a full pipe and never fills memory."""

    def __init__(self, pipe: IO[bytes], cap: int) -> None:
        super().__init__(daemon=True)
        self._pipe, self._cap = pipe, cap
        self._kept = bytearray()
        self._lock = threading.Lock()
        self.total = 0
        self.start()

    def run(self) -> None:
        try:
            while chunk := self._pipe.read1(_READ_CHUNK):  # type: ignore[attr-defined]
                with self._lock:
                    room = self._cap - len(self._kept)
                    if room > 0:
                        self._kept += chunk[:room]
                    self.total += len(chunk)
        except (OSError, ValueError):
            pass  # the pipe was closed under us; keep what arrived
        finally:
            self._pipe.close()

    def text(self) -> str:
        with self._lock:
            return bytes(self._kept).decode("utf-8", errors="replace")
