"""`onloop up` is safe by default: no public address without sign-in, no secret in its output."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.signin_helpers import CLIENT_SECRET, COOKIE_SECRET, write_signin_file


def onloop_up(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    """`onloop up` where it must refuse before starting anything (a timeout would be a bug)."""
    full_env = {**os.environ, **(env or {})}
    for name in ("ONLOOP_AUTH", "ONLOOP_INSECURE_NO_AUTH", "ONLOOP_DATABASE_URL"):
        if not env or name not in env:
            full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "agent_core", "up", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_a_public_address_without_signin_is_refused_naming_the_fix(tmp_path):
    for host in ("0.0.0.0", "::", "192.0.2.10"):
        done = onloop_up("--host", host, "--port", "8599", cwd=tmp_path)
        assert done.returncode != 0
        (line,) = done.stderr.strip().splitlines()
        assert f"refusing to serve the dashboard on {host} without sign-in" in line
        assert "--auth-config" in line and "--insecure-no-auth" in line
        assert "onloop is up" not in done.stdout
    assert not (tmp_path / "onloop.db").exists()  # refused before touching the store


def test_a_broken_signin_file_is_refused_without_showing_a_secret(tmp_path):
    path = write_signin_file(tmp_path)
    path.write_text(path.read_text().replace('client_id = "onloop-dashboard"\n', ""))
    for env in ({}, {"ONLOOP_AUTH": str(path)}):
        args = () if env else ("--auth-config", str(path))
        done = onloop_up("--host", "0.0.0.0", *args, cwd=tmp_path, env=env)
        assert done.returncode != 0
        assert "lacks [auth] client_id" in done.stderr
        for secret in (COOKIE_SECRET, CLIENT_SECRET):
            assert secret not in done.stderr + done.stdout
