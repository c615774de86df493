"""The sandbox's command line and detection, without starting it."""

from __future__ import annotations

import os
from pathlib import Path

from agent_core.tools import builtin_tools
from agent_core.tools.builtins import offered_tools, shell_offer
from agent_core.tools.sandbox import sandbox_argv, sandbox_env, sandbox_status


def _argv(network: bool) -> list[str]:
    argv, fds = sandbox_argv(["/bin/sh", "-c", "true"], workspace=Path("/w/s"), network=network)
    for fd in fds:
        os.close(fd)
    return argv


def test_the_command_line_confines_by_default():
    argv = _argv(network=False)
    for flag in (
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--clearenv",
        "--new-session",
    ):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert "--share-net" not in argv and "/etc/resolv.conf" not in argv
    assert ["--bind", "/w/s", "/w/s"] == argv[argv.index("--bind") : argv.index("--bind") + 3]
    assert argv.count("--bind") == 1  # the workspace is the one writable place
    assert "/etc" not in argv and "/home" not in argv and "/root" not in argv
    assert argv[-4:] == ["--", "/bin/sh", "-c", "true"]


def test_a_network_grant_keeps_a_network_of_its_own_with_name_resolution():
    argv = _argv(network=True)
    assert "--share-net" not in argv and "/etc/resolv.conf" in argv
    assert argv[2].endswith("user_net.py")  # the launcher that links it through pasta


def test_the_environment_is_an_allow_list(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-xxxxxxxxxxxxxxxx")
    monkeypatch.setenv("HARMLESS", "1")
    env = sandbox_env(Path("/w/s"))
    assert set(env) <= {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LC_ALL",
        "TERM",
        "TMPDIR",
        "PWD",
        "TZ",
    }
    assert env["HOME"] == "/w/s"


def test_a_missing_bwrap_names_the_install_and_hides_the_shell(monkeypatch):
    monkeypatch.setenv("ONLOOP_BWRAP", "/nonexistent/bwrap")
    status = sandbox_status()
    assert not status.available and "sudo apt-get install bubblewrap" in status.reason
    offer = shell_offer()
    assert offer.mode == "unavailable" and "unconfined_shell = true" in offer.reason
    assert "run_shell" not in offered_tools(builtin_tools(), offer)
    assert "apt-get install bubblewrap" in offer.describe()
    opted = shell_offer(unconfined_shell=True)
    assert opted.mode == "unconfined" and "UNCONFINED" in opted.describe()
    assert "run_shell" in offered_tools(builtin_tools(), opted)


def test_a_bwrap_that_cannot_make_namespaces_reports_its_error(tmp_path, monkeypatch):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ONLOOP_BWRAP", str(fake))
    status = sandbox_status()
    assert not status.available
    assert "No permissions to create new namespace" in status.reason
