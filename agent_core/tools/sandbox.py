"""The sandbox every process a tool starts runs in: bubblewrap with the workspace as the one
writable place and the only user data in view, no network unless granted, its own PID namespace,
an allow-listed environment, capped resources, and death with the worker."""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_core.tools.protected import Protected, guard, own_files
from agent_core.tools.user_net import launcher_argv

BWRAP = "bwrap"  # looked up on PATH; ONLOOP_BWRAP names another (tests name a missing one)
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; "
    "Fedora: sudo dnf install bubblewrap)"
)
SANDBOX_UID = 1000  # who commands run as inside; files they write belong to the worker's user
PATH_INSIDE = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
# Read-only system parts commands need; /etc is assembled, never bound whole (it names users,
# holds host keys and the shadow file).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",  # Debian's /usr/bin/awk -> /etc/alternatives/awk and friends
    "/etc/localtime",
    "/etc/mime.types",
)
NETWORK_ETC = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
)
PASSWD = (  # a synthetic user list: the host's names no user and no home
    "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
    f"agent:x:{SANDBOX_UID}:{SANDBOX_UID}:agent:{{home}}:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
GROUP = f"root:x:0:\nagent:x:{SANDBOX_UID}:\nnogroup:x:65534:\n"
_PR_SET_PDEATHSIG = 1
STALE_CGROUP_S = 60.0  # a leftover cgroup this old is a dead worker's (its command ended)
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded now: a forked child must not load libraries


@dataclass(frozen=True)
class Limits:
    """What one command may use; each process in the sandbox gets the CPU and memory caps."""

    cpu_seconds: int = 60
    memory_bytes: int = 2 << 30  # address space per process
    file_bytes: int = 256 << 20  # largest file a command may write
    processes: int = 256  # enforced through a pids cgroup where the worker may create one
    tmp_bytes: int = 64 << 20  # the private /tmp lives in memory


@dataclass(frozen=True)
class SandboxStatus:
    available: bool
    reason: str = ""  # why not, with how to fix it; empty when available


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start here and the policy did not opt in to an unconfined shell."""


class NetworkUnavailable(SandboxUnavailable):
    """The policy grants the network but the sandbox's own network (pasta) cannot start here."""


def sandbox_status() -> SandboxStatus:
    """Whether the sandbox can start on this machine (probed once per bwrap binary)."""
    return _probe(bwrap_binary())


def bwrap_binary() -> str:
    name = os.environ.get("ONLOOP_BWRAP") or BWRAP
    return _which(name, os.environ.get("PATH"))


@functools.lru_cache(maxsize=8)
def _which(name: str, path: str | None) -> str:
    """Looked up once per name and PATH (each run's shell offer asks; _probe is cached too)."""
    return shutil.which(name, path=path) or name


@functools.cache
def _probe(binary: str) -> SandboxStatus:
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        return SandboxStatus(False, f"bubblewrap ({binary}) is not installed: {INSTALL_HINT}")
    probe = Path(os.path.realpath("/tmp" if os.path.isdir("/tmp") else "."))
    argv, fds = sandbox_argv(["/bin/true"], workspace=probe, network=False, binary=binary)
    try:
        done = subprocess.run(
            argv,
            env=sandbox_env(probe),
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxStatus(False, f"bubblewrap could not start: {exc}")
    finally:
        for fd in fds:
            os.close(fd)
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", errors="replace").strip() or f"exit {done.returncode}"
        return SandboxStatus(
            False,
            f"bubblewrap cannot create its namespaces here ({said}); allow unprivileged user "
            "namespaces (e.g. sysctl kernel.unprivileged_userns_clone=1) or run in a VM",
        )
    return SandboxStatus(True)


def sandbox_env(workspace: Path) -> dict[str, str]:
    """The whole environment a sandboxed command sees: an allow-list, never the worker's."""
    env = {
        "PATH": PATH_INSIDE,
        "HOME": str(workspace),
        "USER": "agent",
        "LOGNAME": "agent",
        "SHELL": "/bin/sh",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "TMPDIR": "/tmp",
        "PWD": str(workspace),
    }
    tz = os.environ.get("TZ")
    if tz and len(tz) < 64:
        env["TZ"] = tz
    return env


def _confined_system(binary: str | None, network: bool) -> list[str]:
    """The start of every bwrap command line: new namespaces (the network's own, always), an
    unprivileged user with no capabilities, and the system folders and /etc files, read-only."""
    argv = [binary or bwrap_binary()]
    # The network namespace is always the sandbox's own: a grant links it to the outside through
    # user_net (never --share-net, which would hand over the host's loopback and abstract sockets).
    argv += ["--unshare-all", "--unshare-user", "--disable-userns"]
    argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    argv += ["--die-with-parent", "--new-session", "--clearenv", "--hostname", "sandbox"]
    for path in SYSTEM_DIRS:
        argv += _mirror(path)
    for path in ETC_FILES + (NETWORK_ETC if network else ()):
        argv += _mirror(path)
    return argv


def sandbox_argv(
    command: list[str],
    *,
    workspace: Path,
    network: bool,
    binary: str | None = None,
    limits: Limits = Limits(),
    read_only: Sequence[str] = (),
) -> tuple[list[str], list[int]]:
    """The bwrap command line that runs `command` confined to `workspace`, and the file
    descriptors (synthetic /etc/passwd and /etc/group) the caller must pass and then close.
    `read_only`: binds laid over the workspace (onloop's own files in it, protected.Guard)."""
    ws = str(workspace)
    argv = _confined_system(binary, network)
    fds = [_data_fd(PASSWD.format(home=ws)), _data_fd(GROUP)]
    argv += ["--ro-bind-data", str(fds[0]), "/etc/passwd"]
    argv += ["--ro-bind-data", str(fds[1]), "/etc/group"]
    argv += ["--proc", "/proc", *_memory_filesystems(limits.tmp_bytes)]
    argv += ["--bind", ws, ws, *read_only, "--chdir", ws]
    for name, value in sandbox_env(workspace).items():
        argv += ["--setenv", name, value]
    argv += _sealed_root()
    argv += ["--", *command]
    return (_with_user_net(argv, fds) if network else argv), fds


def _memory_filesystems(tmp_bytes: int) -> list[str]:
    """/dev and /tmp, the in-memory places a command may write, each capped: bwrap's --dev
    tmpfs takes no size, so it is made read-only once /dev/shm (capped) is mounted in it."""
    argv = ["--dev", "/dev", "--size", str(tmp_bytes), "--tmpfs", "/dev/shm"]
    argv += ["--remount-ro", "/dev"]
    return argv + ["--size", str(tmp_bytes), "--tmpfs", "/tmp"]


def _sealed_root() -> list[str]:
    """bwrap's root is an uncapped tmpfs the sandbox's user owns (mount points, /etc): once
    every mount is in place it becomes read-only. Last, before the command."""
    return ["--remount-ro", "/"]


def _with_user_net(argv: list[str], fds: list[int] | None = None) -> list[str]:
    """The sandbox linked to the outside by its own user-mode network (pasta); fails closed,
    naming the package to install, where pasta is missing."""
    try:
        return launcher_argv(argv, fds or [])
    except RuntimeError as exc:
        raise NetworkUnavailable(str(exc)) from None


def _mirror(path: str) -> list[str]:
    """Bind a system path read-only where it is, keeping a top-level symlink (usrmerge) as one."""
    if os.path.islink(path) and os.path.dirname(path) == "/":
        return ["--symlink", os.readlink(path), path]
    if os.path.exists(path):
        return ["--ro-bind", path, path]
    return []


def _data_fd(text: str) -> int:
    """A pipe's read end holding `text` (small, so the write cannot block)."""
    read, write = os.pipe()
    os.write(write, text.encode())
    os.close(write)
    return read


def child_setup(limits: Limits, cgroup: PidsCgroup | None = None) -> Callable[[], None]:
    """What the forked child does before exec: die with the worker, join the pids cgroup, cap
    resources. Async-signal-safe calls only (no imports, no locks)."""
    parent = os.getpid()
    caps = [
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_CORE, 0),
    ]
    if cgroup is None and os.getuid() != 0:
        # In bwrap's fresh user namespace (Linux 5.14+) this counts only the sandbox's own
        # processes; root is exempt from it, hence the pids cgroup.
        caps.append((resource.RLIMIT_NPROC, limits.processes))
    procs = cgroup.procs_file if cgroup is not None else None

    def setup() -> None:
        # PDEATHSIG fires when the forking thread ends; run_command forks from the run's thread,
        # which waits for the command, so this is the worker's death (or that thread's).
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the worker died before prctl took effect
            os._exit(1)
        if procs is not None:
            try:
                fd = os.open(procs, os.O_WRONLY)
                os.write(fd, b"0")  # "0" moves the writing process itself
                os.close(fd)
            except OSError:
                pass  # the cgroup went away; the other caps still hold
        for which, value in caps:
            resource.setrlimit(which, (value, value))

    return setup


@dataclass(frozen=True)
class PidsCgroup:
    """A pids cgroup that caps how many processes one command may have (fork bombs)."""

    path: str

    @property
    def procs_file(self) -> str:
        return os.path.join(self.path, "cgroup.procs")

    @classmethod
    def create(cls, limit: int) -> PidsCgroup | None:
        """A fresh cgroup with `pids.max = limit`, or None where the worker may not make one."""
        for base in _pids_roots():
            _sweep_stale(base)
            path = os.path.join(base, f"onloop-{uuid.uuid4().hex[:12]}")
            try:
                os.mkdir(path)
            except OSError:
                continue
            try:
                Path(path, "pids.max").write_text(str(limit))
                return cls(path)
            except OSError:
                _rmdir(path)
        return None

    def members(self) -> set[int]:
        """The processes in the cgroup now (none once it is gone)."""
        try:
            return {int(pid) for pid in Path(self.procs_file).read_text().split()}
        except (OSError, ValueError):
            return set()

    def remove(self) -> None:
        """Remove the cgroup once the killed processes have left it (it is gone in a moment)."""
        for _ in range(200):
            if _rmdir(self.path):
                return
            time.sleep(0.005)


@functools.cache
def _pids_roots() -> tuple[str, ...]:
    """Where this worker may create pids cgroups: cgroup v1's pids hierarchy or, on v2, its own
    cgroup when the pids controller is delegated to it."""
    roots = []
    v1 = "/sys/fs/cgroup/pids"
    if os.access(v1, os.W_OK):
        roots.append(v1)
    try:
        own = Path("/proc/self/cgroup").read_text().splitlines()
        v2 = next((line[3:] for line in own if line.startswith("0::")), None)
        if v2 is not None:
            base = os.path.join("/sys/fs/cgroup", v2.lstrip("/"))
            controllers = Path(base, "cgroup.subtree_control").read_text().split()
            if "pids" in controllers and os.access(base, os.W_OK):
                roots.append(base)
    except OSError:
        pass
    return tuple(roots)


@functools.cache
def _sweep_stale(base: str) -> None:
    """Once per process: remove the empty cgroups a killed worker left behind. Only old ones, so a
    cgroup another worker has just made (its command not in it yet) is never taken away."""
    try:
        names = [n for n in os.listdir(base) if n.startswith("onloop-")]
    except OSError:
        return
    for name in names:
        path = os.path.join(base, name)
        try:
            if time.time() - os.stat(path).st_mtime > STALE_CGROUP_S:
                _rmdir(path)  # fails, harmlessly, while a process is still in it
        except OSError:
            continue


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False  # a process is still leaving it
    return True


def server_argv(
    command: list[str],
    *,
    scratch: Path,
    paths: list[Path],
    network: bool,
    env: dict[str, str] | None = None,
    binary: str | None = None,
    protected: Protected | None = None,
) -> list[str]:
    """The bwrap command line for a long-lived stdio MCP server: the system read-only, `scratch`
    its one private writable folder (HOME and cwd), `paths` bound read-write, the program's own
    folders read-only, no network unless `network`, the allow-listed environment plus `env`.

    Unlike `sandbox_argv` it passes no file descriptors (the MCP SDK starts the process): the
    synthetic /etc/passwd and /etc/group are files beside `scratch`, outside the sandbox's view.
    No rlimits either (no pre-exec hook there); bwrap's --die-with-parent still ends it with the
    worker."""
    # Here, not at the top: the policy's commands import this module for Limits and must stay
    # clear of the store's imports (storage/__init__ loads SQLAlchemy).
    from storage.private_files import private_folder, write_private_file

    private_folder(scratch.parent)  # owner-only, and refused if another user made it (/tmp)
    private_folder(scratch)
    etc = private_folder(scratch.with_name(scratch.name + ".etc"))
    write_private_file(etc / "passwd", PASSWD.format(home=scratch))
    write_private_file(etc / "group", GROUP)
    program = _program(command[0])
    argv = _confined_system(binary, network)
    argv += ["--ro-bind", str(etc / "passwd"), "/etc/passwd"]
    argv += ["--ro-bind", str(etc / "group"), "/etc/group"]
    argv += ["--proc", "/proc", *_memory_filesystems(Limits().tmp_bytes)]
    for folder in program_folders([program, *command[1:]]):
        argv += ["--ro-bind", folder, folder]
    for writable in paths:
        argv += ["--bind", str(writable), str(writable)]
    for writable in paths:  # onloop's own files in them stay read-only (and pinned in place)
        if writable.is_dir():
            argv += guard(writable, protected or own_files()).bind_args()
    argv += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
    for name, value in {**sandbox_env(scratch), **(env or {})}.items():
        argv += ["--setenv", name, value]
    argv += [*_sealed_root(), "--", program, *command[1:]]
    return _with_user_net(argv) if network else argv


def _program(name: str) -> str:
    """The command's program as an absolute path (looked up on the worker's PATH)."""
    found = shutil.which(name) if os.sep not in name else name
    return os.path.abspath(found or name)


def program_folders(command: list[str]) -> list[str]:
    """What a server's program needs in view, read-only: the program's own installation (the
    folder above its bin/, e.g. a virtualenv or pyenv version) and, for each file argument (a
    script), the node_modules it lives in or else its folder. System folders are bound already."""
    folders: list[str] = []

    def add(folder: str) -> None:
        if folder == "/" or any(folder == d or folder.startswith(d + "/") for d in SYSTEM_DIRS):
            return
        if folder not in folders:
            folders.append(folder)

    for exe in dict.fromkeys((command[0], os.path.realpath(command[0]))):
        folder = os.path.dirname(exe)
        add(os.path.dirname(folder) if os.path.basename(folder) == "bin" else folder)
    for arg in command[1:]:
        if not (os.path.isabs(arg) and os.path.isfile(arg)):
            continue
        real = os.path.realpath(arg)
        parts = real.split(os.sep)
        if "node_modules" in parts:
            add(os.sep.join(parts[: parts.index("node_modules") + 1]))
        else:
            add(os.path.dirname(real))
    return folders
