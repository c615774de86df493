"""Where a command's output goes, and what happens when it can no longer go there.

Standard output can be closed before onloop starts (`onloop runs >&-`: Python then has no
`sys.stdout` and every line was dropped, exit code 0), full (`> /dev/full`: a traceback) or
closed by its reader (`onloop run ... | head -1`: the command died at once, leaving its run
"running"). `guard_stdout()` makes every such failure one exception, `OutputLost`, that the
command line turns into one line on stderr and an exit code that is not 0; `onloop run` stops
its run first (interrupted, resumable)."""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any

BROKEN_PIPE_EXIT = 1  # the reader went away (`| head`): quiet, as other command-line tools are
OUTPUT_FAILED_EXIT = 2  # closed from the start, full, an I/O error: said on stderr


class OutputLost(Exception):
    """Writing to standard output failed; nothing more can be printed there."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error

    @property
    def reader_gone(self) -> bool:
        """The reader closed its end (a pipe into `head`): not worth a message of its own."""
        return self.error.errno == errno.EPIPE

    def describe(self) -> str:
        if self.error.errno == errno.EBADF:
            return (
                "standard output is closed, so nothing onloop prints can be seen; "
                "send it to a terminal, a file or a pipe (or to /dev/null to drop it)"
            )
        reason = self.error.strerror or type(self.error).__name__
        return f"could not write to standard output ({reason}); what follows was not printed"


class _Closed(io.TextIOBase):
    """Standard output when the process started without one (file descriptor 1 closed)."""

    encoding = "utf-8"
    errors = "strict"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OutputLost(_closed_error())

    def isatty(self) -> bool:
        return False


class _Guarded:
    """The real standard output, its write and flush failures raised as OutputLost (not an
    OSError: no `except OSError` on the way up mistakes it for a file's problem)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputLost(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputLost(exc) from None

    def __getattr__(self, name: str) -> Any:  # encoding, errors, isatty, fileno, buffer ...
        return getattr(self._stream, name)


def guard_stdout() -> None:
    """From here on, a failure to print raises OutputLost (the `onloop` command's start).

    A standard stream closed at start gets /dev/null on its descriptor first: the next file
    opened (the store's database) would take the lowest free descriptor, 1 for a closed stdout,
    and whatever writes to descriptor 1 (a tool's child process, a C library) would write into
    it."""
    for fd in (0, 1, 2):
        _hold(fd)
    stdout = sys.stdout
    if stdout is None:
        sys.stdout = _Closed()
    elif not isinstance(stdout, (_Guarded, _Closed)):
        sys.stdout = _Guarded(stdout)  # type: ignore[assignment]  # a TextIO by its attributes


def check_open() -> None:
    """Before a command records anything it must show (a run it drives here): a standard output
    closed from the start refuses it, so no run is created that nobody could watch."""
    if isinstance(sys.stdout, _Closed):
        raise OutputLost(_closed_error())


def _closed_error() -> OSError:
    return OSError(errno.EBADF, os.strerror(errno.EBADF))


def _hold(fd: int) -> None:
    try:
        os.fstat(fd)
        return
    except OSError:
        pass
    try:
        opened = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    if opened != fd:
        os.dup2(opened, fd)
        os.close(opened)


def drop_stdout() -> None:
    """After OutputLost: what is still buffered, and anything printed later, goes nowhere
    (Python's own flush at exit would otherwise print a traceback of its own)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    sys.stdout = None  # type: ignore[assignment]  # Python skips a missing stream at exit
