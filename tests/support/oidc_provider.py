"""A real OpenID Connect provider for the sign-in tests: tests/oidc/provider.mjs on Node.

`.ci/run` installs Node and the provider's npm packages; without them these tests skip.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.run_helpers import wait_for

FOLDER = Path(__file__).resolve().parents[1] / "oidc"


def available() -> bool:
    return shutil.which("node") is not None and (FOLDER / "node_modules" / "oidc-provider").is_dir()


def _ready(issuer: str) -> bool:
    try:
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def running_provider(port: int, redirect_uri: str, client_secret: str) -> Iterator[str]:
    """The provider on 127.0.0.1:port, its issuer URL yielded; stopped afterwards."""
    process = subprocess.Popen(
        ["node", "provider.mjs", str(port), redirect_uri, client_secret],
        cwd=FOLDER,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or _ready(issuer), timeout=60, what="oidc")
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
