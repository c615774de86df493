"""Shared fixtures. Tests never touch the network: only loopback connections are allowed."""

from __future__ import annotations

import functools
import ipaddress
import socket
import sys
from typing import Any

import pytest

from tests.support.fake_openai import FakeOpenAIServer
from tests.support.suite_layout import mark_items, misplaced_test_files

# --- layout and markers ----------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    """Every test file lives in a feature folder (tests/store/, tests/run/, ...)."""
    misplaced = misplaced_test_files()
    if misplaced:
        raise pytest.UsageError(
            f"test files outside the feature folders: {', '.join(misplaced)}; move each into "
            "the folder of what it tests (tests/store/, tests/run/, tests/oversight/, ...)"
        )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks set here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """browser, postgres, slow and peers, applied by folder, fixture and module (see
    tests/support/suite_layout.py); peers run only when `-m` names them."""
    mark_items(config, items)


# --- network guard ---------------------------------------------------------------------------


class NetworkBlocked(RuntimeError):
    """A test tried to connect somewhere other than this machine."""


class NetworkGuard:
    """Refuses non-loopback connections and remembers them, so the test fails even if the
    code under test swallows the error."""

    Blocked = NetworkBlocked  # so tests can expect it without importing this conftest twice

    def __init__(self) -> None:
        self.blocked: list[object] = []

    def check(self, address: object) -> None:
        if isinstance(address, tuple) and address and not _is_loopback(address[0]):
            self.blocked.append(address)
            raise NetworkBlocked(f"tests may not reach the network (tried {address!r})")


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch):
    """Autouse. A test that expects a blocked attempt asserts on `.blocked`, then clears it."""
    guard = NetworkGuard()
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create_connection = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> None:
        guard.check(address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        guard.check(address)
        return real_connect_ex(sock, address)

    def create_connection(address: tuple, *args, **kwargs) -> socket.socket:
        guard.check(address)  # before the name is resolved: no DNS query leaves either
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: Any, port: Any, *args, **kwargs) -> Any:
        # asyncio resolves first (in its executor), then connects: a name is checked before any
        # DNS query leaves; an address literal (`10.0.0.1`, `2130706433`) resolves locally and
        # is checked where it is connected to.
        if host is not None and not _numeric(host):
            guard.check((host.decode() if isinstance(host, bytes) else host, port))
        return real_getaddrinfo(host, port, *args, **kwargs)

    def _numeric(host: Any) -> bool:
        try:
            real_getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
        except (OSError, UnicodeError):
            return False
        return True

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield guard
    if guard.blocked:
        pytest.fail(f"the test tried to reach the network: {guard.blocked!r}")


# --- model servers ---------------------------------------------------------------------------


@pytest.fixture
def sandbox_required() -> None:
    """`pytest.mark.usefixtures("sandbox_required")`: the test fails, never skips, where the
    shell's sandbox is missing (.ci/run installs it; see tests/support/sandbox_helpers)."""
    from tests.support.sandbox_helpers import need_sandbox

    need_sandbox()


@pytest.fixture
def fake_openai():
    """A Chat Completions server on 127.0.0.1 (see tests/support/fake_openai.py)."""
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


# --- stores and the demo model ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo model pauses between turns for people to watch; tests don't need to."""
    monkeypatch.setenv("ONLOOP_DEMO_DELAY", "0")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_DATABASE_URL", "ONLOOP_POLICY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)  # traces only where a test sends them


@pytest.fixture(autouse=True)
def main_module_kept():
    """Autouse. Streamlit's AppTest runs a page as `__main__` and leaves it there; a later test's
    spawned process (multiprocessing "spawn") would then run that page as its own main script
    before its target, and die there. Each test gets back the `__main__` it started with."""
    main = sys.modules["__main__"]
    kept = {name: getattr(main, name) for name in ("__file__", "__spec__") if hasattr(main, name)}
    yield
    sys.modules["__main__"] = main
    for name in ("__file__", "__spec__"):
        if name in kept:
            setattr(main, name, kept[name])
        elif hasattr(main, name):
            delattr(main, name)


@pytest.fixture(autouse=True, scope="session")
def components_scanned_once():
    """Autouse. Before its first run every AppTest reads the metadata of every installed package
    for Streamlit components (about 0.2 s of CPU here), where a server does it once at start; the
    scan's result is shared for the session. Each AppTest still registers what it found in a
    registry of its own (the dashboard has no components: the scan finds none)."""
    from streamlit.components.v2 import manifest_scanner

    scanned = functools.cache(manifest_scanner.scan_component_manifests)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_scanner, "scan_component_manifests", lambda **_: list(scanned()))
        yield


@pytest.fixture(autouse=True)
def fresh_dashboard_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Autouse. Tests write and rerun a page within milliseconds, so every AppTest run reads the
    store afresh; the shared reads' TTL has its own tests (dashboard/test_shared_reads.py)."""
    from dashboard.components.shared_reads import SHARED

    monkeypatch.setattr(SHARED, "ttl", 0.0)


@pytest.fixture
def store(request, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A fresh store in a temporary SQLite file: the one store fixture.

    A module marked `store_for("dashboard")` gets it where the routed app's get_store() opens it
    too (tests/support/dashboard_fixtures.open_store); `store_for("page")` where a page run on its
    own by AppTest does (tests/support/dashboard_seed.open_test_store)."""
    import storage

    marker = request.node.get_closest_marker("store_for")
    reader = marker.args[0] if marker else None
    if reader == "dashboard":
        from tests.support.dashboard_fixtures import open_store

        yield from open_store(tmp_path, monkeypatch)
    elif reader == "page":
        from tests.support.dashboard_seed import open_test_store

        yield from open_test_store(tmp_path, monkeypatch)
    elif reader is None:
        opened = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
        yield opened
        opened.dispose()
    else:
        raise ValueError(f"store_for takes 'dashboard' or 'page', not {reader!r}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can screenshot failures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- PostgreSQL ------------------------------------------------------------------------------

from tests.support.postgres_server import postgres_server, postgres_url  # noqa: E402, F401  (fixtures)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A fresh store on each backend: a SQLite file, then a PostgreSQL database of its own."""
    import storage

    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'onloop.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = storage.open_store(url)
    yield opened
    opened.dispose()
