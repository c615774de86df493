"""A real `onloop worker` process with --metrics-port and --log-format json, its endpoint scraped
over HTTP, and a small OTLP/HTTP receiver on 127.0.0.1 that decodes what it is sent with
opentelemetry-proto's own messages."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families

from tests.support.run_helpers import wait_for

ENDPOINT = re.compile(r"metrics: (http://\S+/metrics)")


class WorkerProcess:
    """`python -m agent_core worker ... --log-format json` (or `up`): stdout and stderr in files."""

    def __init__(
        self,
        url: str,
        tmp: Path,
        *args: str,
        env: dict[str, str] | None = None,
        command: str = "worker",
    ) -> None:
        self.out, self.err = tmp / "worker.out", tmp / "worker.err"
        full = {**os.environ, "ONLOOP_DEMO_DELAY": "0.01", "ONLOOP_WORKSPACES": str(tmp / "ws")}
        full["ONLOOP_DATABASE_URL"] = url
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PROMETHEUS_MULTIPROC_DIR"):
            full.pop(name, None)
        full.update(env or {})
        line = [sys.executable, "-m", "agent_core", command, "--log-format", "json", *args]
        if command == "worker":
            line += ["--poll-seconds", "0.1"]
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                line, cwd=tmp, env=full, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )

    def lines(self) -> list[dict[str, Any]]:
        """Every stderr line, each parsed as one JSON object (a line that is not fails here)."""
        return [json.loads(line) for line in self.err.read_text().splitlines()]

    def messages(self) -> str:
        return "\n".join(line.get("message", "") for line in self.lines())

    def endpoint(self) -> str:
        found = wait_for(lambda: ENDPOINT.search(self.messages()), 90, "the metrics endpoint")
        return found.group(1)

    def scrape(self) -> dict[tuple[str, tuple], float]:
        with urllib.request.urlopen(self.endpoint(), timeout=10) as response:
            text = response.read().decode()
        return parse(text)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(90)


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """The exposition text, read by prometheus_client's parser: (name, labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(found: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        value
        for (sample, sample_labels), value in found.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )


class OtlpReceiver:
    """POST /v1/metrics on 127.0.0.1: each body decoded as an ExportMetricsServiceRequest."""

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    receiver.requests.append((self.path, self.headers["Content-Type"], request))
                reply = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def points(self) -> Iterator[tuple[str, dict[str, str], Any, Any]]:
        """(metric name, attributes, data point, resource) of every point received so far."""
        with self.lock:
            requests = [request for _, _, request in self.requests]
        for request in requests:
            for resource_metrics in request.resource_metrics:
                for scope in resource_metrics.scope_metrics:
                    for metric in scope.metrics:
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            attributes = {a.key: a.value.string_value for a in point.attributes}
                            yield metric.name, attributes, point, resource_metrics.resource

    def latest(self, name: str, **attributes: str) -> Any:
        """The last point received of `name` with these attributes (cumulative: the total)."""
        found = [p for n, a, p, _ in self.points() if n == name and attributes.items() <= a.items()]
        return found[-1] if found else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
