"""`--metrics-port`, `--metrics-host` and `--log-format` of `onloop worker` and `onloop up`:
where metrics are served and how log lines are written (agent_core/telemetry)."""

from __future__ import annotations

import logging

import typer

import storage
from agent_core.cli.errors import fail
from agent_core.oversight.policy import Policy
from agent_core.telemetry import logs
from agent_core.telemetry.metrics_serve import MetricsError, MetricsSession


class Telemetry:
    """`--metrics-port`, `--metrics-host` and `--log-format` of `onloop worker` and `onloop up`."""

    def __init__(
        self, metrics_port: int | None = None, metrics_host: str = "127.0.0.1", log_format="human"
    ) -> None:
        self.metrics_port, self.metrics_host = metrics_port, metrics_host
        self.log_format = log_format

    def configure_logs(self, policy: Policy) -> None:
        logs.configure(
            self.log_format,
            secret_env=tuple(policy.secret_names()),
            secret_patterns=tuple(policy.sandbox.secret_patterns),
        )

    def start_metrics(self, store: storage.Store, *, pool: bool = False) -> MetricsSession:
        from agent_core.telemetry.metrics_serve import start_for_pool, start_for_worker

        start = start_for_pool if pool else start_for_worker
        try:
            return start(store, self.metrics_host, self.metrics_port)
        except MetricsError as error:
            raise fail(str(error)) from None

    def say(self, text: str) -> None:
        """A line for the person: printed, or with --log-format json an INFO log line."""
        if self.log_format == "json":
            logging.getLogger("onloop.worker").info("%s", text)
        else:
            typer.echo(text)


def metrics_line(session: MetricsSession) -> str:
    return f"\n  metrics: {session.endpoint}" if session.endpoint else ""
