"""Settings from the environment: which model to use and where the store lives."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    @property
    def openai_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def default_provider(self) -> str:
        return "openai" if self.openai_configured else "demo"

    def describe_model(self) -> str:
        if self.openai_configured:
            where = self.openai_base_url or "the OpenAI API"
            return f"openai model {self.openai_model} at {where}"
        return "demo model (offline; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real model)"


def load_settings() -> Settings:
    return Settings()
