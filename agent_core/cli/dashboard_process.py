"""The dashboard's process: how `onloop up` starts and stops it, and its own start.

`python -m agent_core.cli.dashboard_process run dashboard/app.py ...` is `streamlit run ...` that
first asks the kernel for SIGTERM when its `up` dies (PR_SET_PDEATHSIG, set in the child's own
start; the signal follows the *thread* that started the child, so `up` starts it from its main
thread) and leaves at once if `up` is already gone: a SIGKILLed or crashed `up` leaves no
dashboard holding its port. It runs in a process group of its own, which `up` stops whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DASHBOARD_APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
STOP_GRACE_S = 10.0


def start_dashboard(
    host: str, port: int, env: dict[str, str], flags: list[str]
) -> subprocess.Popen:
    """Start the dashboard on host:port (call from the main thread: see above)."""
    from agent_core.cli.child_python import module_command
    from agent_core.worker.supervisor import SUPERVISOR_ENV

    env = {**env, SUPERVISOR_ENV: str(os.getpid())}  # it dies with this process
    command = module_command("agent_core.cli.dashboard_process")
    command += ["run", str(DASHBOARD_APP), "--server.port", str(port), "--server.address", host]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--server.fileWatcherType", "none", "--client.toolbarMode", "minimal", *flags]
    return subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
    )


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def stop_dashboard(process: subprocess.Popen) -> None:
    """Stop the dashboard's process group (it leads it): SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def main() -> None:
    from agent_core.worker.supervisor import die_with_supervisor

    die_with_supervisor()
    from streamlit.web.cli import main as streamlit

    sys.argv = ["streamlit", *sys.argv[1:]]
    streamlit(prog_name="streamlit")


if __name__ == "__main__":
    main()
