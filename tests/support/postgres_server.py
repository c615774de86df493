"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a temp dir, a free port
on 127.0.0.1, trust auth. One cluster per session; every test gets a database of its own."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_HINT = (
    "PostgreSQL is not installed: run `apt-get install -y postgresql` (Debian's server "
    "binaries in /usr/lib/postgresql/*/bin), or .ci/run, which installs it"
)
SUPERUSER = "postgres"


def server_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin that has initdb, or the one on PATH."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        newest = max(found, key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
        return Path(newest).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """A running cluster; `url(name)` is a SQLAlchemy URL of one of its databases."""

    bin: Path
    data: Path
    port: int
    as_user: list[str]  # the command prefix that runs a server binary as its owner
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str) -> None:
        command = [*self.as_user, str(self.bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self.data.parent / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}{tail}")

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        name = f"onloop_test_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_server() -> tuple[PostgresServer, Path]:
    binaries = server_binaries()
    if binaries is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="onloop-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            owner = pwd.getpwnam(SUPERUSER)
        except KeyError:
            shutil.rmtree(root)
            pytest.fail(f"no `{SUPERUSER}` OS user to run the server as; {INSTALL_HINT}")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", SUPERUSER, "--"]
    server = PostgresServer(bin=binaries, data=root / "data", port=_free_port(), as_user=as_user)
    server.run("initdb", "-D", str(server.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8")
    # A test cluster: durability settings off (it is deleted at the end anyway).
    options = (
        f"-h 127.0.0.1 -p {server.port} -k {root} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    log = str(root / "server.log")
    server.run(
        "pg_ctl", "start", "-w", "-t", "30", "-D", str(server.data), "-l", log, "-o", options
    )
    server.admin("CREATE DATABASE onloop_test")
    return server, root


def stop_server(server: PostgresServer, root: Path) -> None:
    try:
        server.run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(server.data))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's cluster (fails, with the install command, when PostgreSQL is missing)."""
    server, root = start_server()
    try:
        yield server
    finally:
        stop_server(server, root)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for this test; dropped after it."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
