"""The new options of `onloop worker` and `onloop up` meet a mistake with one line naming the fix,
never a traceback; an endpoint is served only where it was asked for."""

from __future__ import annotations

import logging
import socket

import pytest
from typer.testing import CliRunner

import storage
from agent_core.cli.app import app
from agent_core.telemetry import metrics_serve


@pytest.fixture(autouse=True)
def _root_handlers_restored():
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    root.handlers[:] = before


@pytest.mark.parametrize("command", ["worker", "up"])
def test_a_bad_log_format_names_the_choices(command):
    result = CliRunner().invoke(app, [command, "--log-format", "xml"])
    assert result.exit_code == 2
    assert "--log-format takes human or json, not 'xml'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("port", ["-1", "70000"])
def test_a_metrics_port_out_of_range_is_refused(port):
    result = CliRunner().invoke(app, ["worker", "--metrics-port", port])
    assert result.exit_code == 2 and "--metrics-port must be a port number" in result.output


def test_a_taken_metrics_port_says_so_and_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # where the private folder is made
    store = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(
            metrics_serve.MetricsError, match="pick a free port with --metrics-port"
        ):
            metrics_serve.start_for_pool(store, "127.0.0.1", port)
    assert not list(tmp_path.glob("onloop-metrics-*"))  # made, then removed with the refusal


def test_a_metrics_host_that_is_no_address_names_the_host_as_the_fix(tmp_path, monkeypatch):
    """It said "pick a free port with --metrics-port" for an address of another machine (here
    TEST-NET-1, reserved for documentation: never this machine's, never looked up)."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    store = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
    with pytest.raises(
        metrics_serve.MetricsError, match="pass --metrics-host an address"
    ) as refused:
        metrics_serve.start_for_pool(store, "192.0.2.1", 0)
    assert "--metrics-port" not in str(refused.value)


def test_nothing_is_served_or_counted_unless_asked(tmp_path, monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    store = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
    session = metrics_serve.start_for_pool(store, "127.0.0.1", None)
    assert session.endpoint is None and session.child_env == {}
    session.close()


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:4318/v1/metrics"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_METRICS_EXPORTER": "none"}, False),
        ({}, False),
    ],
)
def test_otlp_is_on_only_where_the_standard_variables_say(env, on):
    assert metrics_serve.otlp_configured(env) is on
