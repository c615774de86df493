"""What leaves onloop for an observability stack: OpenTelemetry GenAI traces (traces*.py),
metrics (metrics*.py) and structured logs (logs*.py). Everything here is off unless configured,
and nothing here may change a run's outcome: export is batched, asynchronous and best-effort."""
