"""Which model drives a run: the provider name on the run row becomes a ModelProvider."""

from __future__ import annotations

from agent_core.models.base import ModelError, ModelProvider
from agent_core.settings import Settings

PROVIDERS = ("demo", "openai", "scripted")


def make_model(provider: str, model_name: str | None, settings: Settings) -> ModelProvider:
    if provider == "demo":
        from agent_core.models.demo import DemoModel

        return DemoModel()
    if provider == "openai":
        from agent_core.models.openai_model import OpenAIModel
        from agent_core.models.prices import load_prices

        if not settings.openai_configured:
            raise ModelError(
                "the openai model needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server such "
                "as Ollama); set one, or use --model demo"
            )
        try:
            prices = load_prices(settings.prices)
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        return OpenAIModel(
            model_name or settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            prices=prices,
        )
    if provider == "scripted":
        raise ModelError("the scripted model is for tests; pass it to the worker directly")
    raise ModelError(f"unknown model {provider!r}; choose one of: demo, openai")
