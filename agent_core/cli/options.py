"""The options several commands share (`--db`, `--json`, a run's id, the model-call limits) and
the settings the limits make."""

from __future__ import annotations

from typing import Annotated

import typer

from agent_core.cli.errors import fail
from agent_core.models.settings import MOST_OUTPUT_TOKENS, MOST_REQUEST_TIMEOUT_S

# The largest numbers the options take: far past any real use, well inside what the store's
# integers and the clock's timeouts hold.
MOST_STEPS = 1_000_000
MOST_MINUTES = 525_600  # a year
MOST_ROWS = 1_000_000
DAY_SECONDS = 86_400
MOST_CONCURRENCY = 10_000  # runs per process

Db = Annotated[
    str | None,
    typer.Option(
        "--db", help="SQLite file (or database URL); default ./onloop.db or $ONLOOP_DATABASE_URL"
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
RunId = Annotated[str, typer.Argument(help="The run's id (or a unique prefix of it).")]
RequestTimeout = Annotated[
    float | None,
    typer.Option(
        "--request-timeout",
        help="Seconds a model server may stay silent, before or during a reply (default 120; "
        "$ONLOOP_REQUEST_TIMEOUT; request_timeout_s under [model] in the policy).",
    ),
]
MaxRetries = Annotated[
    int | None,
    typer.Option(
        help="Retries of a model call after a rate limit, server error or lost connection "
        "(default 2; $ONLOOP_MAX_RETRIES; max_retries under [model] in the policy).",
    ),
]
MaxOutputTokens = Annotated[
    int | None,
    typer.Option(
        help="Cap on each model reply in tokens, 0 for none (default 4096; "
        "$ONLOOP_MAX_OUTPUT_TOKENS; max_output_tokens under [model] in the policy).",
    ),
]


def within(option: str, value: float, low: float, high: float, *, above: bool = False) -> None:
    """Refuse a number outside [low, high] (`above`: low itself too), naming the range. NaN and
    the infinities typer lets through are outside every range; a number past what the store or
    the clock can hold would otherwise end in a traceback, or a worker that never wakes."""
    inside = (low < value if above else low <= value) and value <= high  # False for NaN
    if not inside:
        start = f"above {low:,}" if above else f"from {low:,}"
        raise fail(f"{option} must be {start} up to {high:,}, not {value}")


def settings_with(request_timeout: float | None, max_retries: int | None, max_output: int | None):
    """The environment's settings, with the model-call limits this command line gave."""
    from agent_core.models.settings import load_settings

    if request_timeout is not None and request_timeout <= 0:
        raise fail("--request-timeout must be above 0 seconds")
    if request_timeout is not None:
        within("--request-timeout", request_timeout, 0, MOST_REQUEST_TIMEOUT_S, above=True)
    if max_retries is not None and not 0 <= max_retries <= 10:
        raise fail("--max-retries must be between 0 and 10")
    if max_output is not None and max_output < 0:
        raise fail("--max-output-tokens must be 0 (no cap) or more")
    if max_output is not None:
        within("--max-output-tokens", max_output, 0, MOST_OUTPUT_TOKENS)
    return load_settings().with_limits(
        request_timeout_s=request_timeout, max_retries=max_retries, max_output_tokens=max_output
    )
