"""Settings from the environment: which model to use, its call limits, and where the store lives."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_core.models.base import ModelError

# Where a person raises each limit of a model call; error messages and pause reasons name them.
OUTPUT_CAP_HINT = (
    "raise the output cap with --max-output-tokens N (onloop run/resume/worker/up), "
    "ONLOOP_MAX_OUTPUT_TOKENS, or max_output_tokens under [model] in the policy file"
)
TIMEOUT_HINT = (
    "raise the request timeout with --request-timeout SECONDS (onloop run/resume/worker/up), "
    "ONLOOP_REQUEST_TIMEOUT, or request_timeout_s under [model] in the policy file"
)


# The largest model-call limits anything takes (flag, variable, the policy's [model]): far past
# real use, well inside what the clock's timeouts and a server's integers hold (infinity is not).
MOST_REQUEST_TIMEOUT_S = 86_400  # a day
MOST_OUTPUT_TOKENS = 10_000_000


def shown_address(url: str) -> str:
    """A model server's URL as screens, messages and records may show it: scheme, host, port
    and path, never a user name, password or query (a proxy's `?api-key=` is a credential)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def has_credentials(url: str) -> bool:
    """Whether a model server's URL carries `user:password@`."""
    return "@" in urlsplit(url).netloc


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY", repr=False)
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_model: str = Field(
        default="gpt-4o-mini",
        validation_alias=AliasChoices("ONLOOP_OPENAI_MODEL", "ONLOOP_MODEL_NAME"),
    )
    prices: str | None = Field(default=None, validation_alias="ONLOOP_PRICES")
    database_url: str | None = Field(default=None, validation_alias="ONLOOP_DATABASE_URL")
    # Limits of each model call. Unset here (no flag, no variable): the policy file's [model]
    # table decides, then the built-in defaults (120 s, 2 retries, 4096 tokens).
    request_timeout_s: float | None = Field(
        default=None, gt=0, le=MOST_REQUEST_TIMEOUT_S, validation_alias="ONLOOP_REQUEST_TIMEOUT"
    )
    max_retries: int | None = Field(
        default=None, ge=0, le=10, validation_alias="ONLOOP_MAX_RETRIES"
    )
    max_output_tokens: int | None = Field(
        default=None, ge=0, le=MOST_OUTPUT_TOKENS, validation_alias="ONLOOP_MAX_OUTPUT_TOKENS"
    )

    @property
    def openai_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def default_provider(self) -> str:
        return "openai" if self.openai_configured else "demo"

    def describe_model(self, model_name: str | None = None) -> str:
        """The model a run uses: `model_name` (e.g. from --model-name) or the configured one."""
        if self.openai_configured:
            where = shown_address(self.openai_base_url or "") or "the OpenAI API"
            return f"openai model {model_name or self.openai_model} at {where}"
        return "demo model (offline; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real model)"

    def with_limits(
        self,
        *,
        request_timeout_s: float | None = None,
        max_retries: int | None = None,
        max_output_tokens: int | None = None,
    ) -> Settings:
        """These settings with the limits a command line gave (None leaves one as it is)."""
        given = {
            "request_timeout_s": request_timeout_s,
            "max_retries": max_retries,
            "max_output_tokens": max_output_tokens,
        }
        update: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        return self.model_copy(update=update)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "a setting"
        raise ModelError(f"{name}: {error['msg']} (got {error.get('input')!r})") from None


class ModelLimits(BaseModel):
    """The [model] table: limits of each model call. An unset key falls to the environment
    (ONLOOP_REQUEST_TIMEOUT, ...), then the defaults; a command-line flag beats them all."""

    model_config = ConfigDict(extra="forbid")

    request_timeout_s: float | None = Field(default=None, gt=0, le=MOST_REQUEST_TIMEOUT_S)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    max_output_tokens: int | None = Field(default=None, ge=0, le=MOST_OUTPUT_TOKENS)  # 0: no cap
