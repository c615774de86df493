"""Which model drives a run: the provider name on the run row becomes a ModelProvider."""

from __future__ import annotations

from typing import Any

from agent_core.models.base import ModelError, ModelProvider
from agent_core.models.prices import load_prices
from agent_core.models.settings import ModelLimits, Settings

PROVIDERS = ("demo", "openai", "scripted")


def call_limits(settings: Settings, limits: ModelLimits | None = None) -> dict[str, Any]:
    """Each model-call limit from the first place that sets it: flag or environment, the policy's
    [model] table, the built-in default (OpenAIModel's)."""
    limits = limits or ModelLimits()
    chosen = {
        "timeout_s": _first(settings.request_timeout_s, limits.request_timeout_s),
        "max_retries": _first(settings.max_retries, limits.max_retries),
        "max_output_tokens": _first(settings.max_output_tokens, limits.max_output_tokens),
    }
    return {name: value for name, value in chosen.items() if value is not None}


def describe_limits(settings: Settings, limits: ModelLimits | None = None) -> str:
    """The model-call limits in force, for the headers of `onloop run`, `worker` and `up`."""
    # The model SDKs load on first use (a worker's warm-up loads them while no run waits).
    from agent_core.models import openai_model as defaults

    chosen = call_limits(settings, limits)
    timeout = chosen.get("timeout_s", defaults.DEFAULT_TIMEOUT_S)
    retries = chosen.get("max_retries", defaults.DEFAULT_MAX_RETRIES)
    cap = chosen.get("max_output_tokens", defaults.DEFAULT_MAX_OUTPUT_TOKENS)
    capped = f"{cap}-token output cap" if cap else "no output cap"
    return f"{timeout:g} s request timeout, {retries} retries, {capped}"


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def why_unavailable(provider: str, settings: Settings) -> str | None:
    """Why a run on `provider` cannot start with these settings (what is missing), or None.
    The worker refuses such a run (make_model); Launch says so before anyone queues it."""
    if provider == "openai" and not settings.openai_configured:
        return (
            "the openai model needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server such "
            "as Ollama)"
        )
    return None


def make_model(
    provider: str,
    model_name: str | None,
    settings: Settings,
    limits: ModelLimits | None = None,
) -> ModelProvider:
    if provider == "demo":  # each model's module on first use: see describe_limits
        from agent_core.models.demo import DemoModel

        return DemoModel()
    if provider == "openai":
        from agent_core.models.openai_model import OpenAIModel

        missing = why_unavailable(provider, settings)
        if missing:
            raise ModelError(f"{missing}; set one, or use --model demo")
        try:
            prices = load_prices(settings.prices)
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        return OpenAIModel(
            model_name or settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            prices=prices,
            **call_limits(settings, limits),
        )
    if provider == "scripted":
        raise ModelError("the scripted model is for tests; pass it to the worker directly")
    raise ModelError(f"unknown model {provider!r}; choose one of: demo, openai")
