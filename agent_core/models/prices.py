"""What a model call costs: a default price table in USD per 1M tokens, overridable by the user."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

Prices = dict[str, dict[str, float]]

# USD per 1M input / output tokens (list prices; cached-input discounts are ignored, so the
# recorded cost errs high). Users override or extend this with ONLOOP_PRICES.
DEFAULT_PRICES: Prices = {
    "gpt-5": {"input": 1.25, "output": 10.0},
    "gpt-5-mini": {"input": 0.25, "output": 2.0},
    "gpt-5-nano": {"input": 0.05, "output": 0.4},
    "gpt-4.1": {"input": 2.0, "output": 8.0},
    "gpt-4.1-mini": {"input": 0.4, "output": 1.6},
    "gpt-4.1-nano": {"input": 0.1, "output": 0.4},
    "gpt-4o": {"input": 2.5, "output": 10.0},
    "gpt-4o-mini": {"input": 0.15, "output": 0.6},
    "gpt-4-turbo": {"input": 10.0, "output": 30.0},
    "gpt-3.5-turbo": {"input": 0.5, "output": 1.5},
    "o3": {"input": 2.0, "output": 8.0},
    "o3-mini": {"input": 1.1, "output": 4.4},
    "o4-mini": {"input": 1.1, "output": 4.4},
}

_EXAMPLE = '{"my-model": {"input": 2.5, "output": 10}}'


def price_for(model_name: str, prices: Prices | None = None) -> dict[str, float] | None:
    """The price entry for a model: exact name, else the longest table name it starts with.

    Dated snapshots ("gpt-4o-mini-2024-07-18") and router prefixes ("openai/gpt-4o") match
    their base model; a prefix only counts at a "-" or ":" boundary so "o3" never prices "o3x".
    """
    table = DEFAULT_PRICES if prices is None else prices
    name = model_name.rsplit("/", 1)[-1]
    if name in table:
        return table[name]
    matches = [key for key in table if name.startswith(key) and name[len(key)] in "-:"]
    return table[max(matches, key=len)] if matches else None


def cost_usd(
    model_name: str, tokens_in: int, tokens_out: int, prices: Prices | None = None
) -> float:
    """The cost of one call in USD; 0.0 for a model the table does not know (e.g. a local one)."""
    entry = price_for(model_name, prices)
    if entry is None:
        return 0.0
    return (tokens_in * entry["input"] + tokens_out * entry["output"]) / 1_000_000


def load_prices(override: str | None) -> Prices:
    """The default table merged with an override: JSON text, or a path to a .json/.toml file.

    Raises ValueError with a message naming the fix when the override cannot be used.
    """
    table = {name: dict(entry) for name, entry in DEFAULT_PRICES.items()}
    if override is None or not override.strip():
        return table
    table.update(_validated(_parse(override.strip())))
    return table


def _parse(override: str) -> object:
    if override.startswith("{"):
        try:
            return json.loads(override)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"the price override (ONLOOP_PRICES) is not valid JSON ({err}); "
                f"give JSON like {_EXAMPLE} or a path to a .json or .toml file"
            ) from None
    path = Path(override).expanduser()
    if not path.is_file():
        raise ValueError(
            f"the price override (ONLOOP_PRICES) names no readable file: {override!r}; "
            f"give a path to a .json or .toml file, or JSON like {_EXAMPLE}"
        )
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(
            f"cannot read the price file {path}: {err}; fix the file "
            f'(JSON like {_EXAMPLE}, or TOML with ["my-model"] input = 2.5 output = 10)'
        ) from None


def _validated(data: object) -> Prices:
    if not isinstance(data, dict):
        raise ValueError(f"the price override must map model names to prices, like {_EXAMPLE}")
    table: Prices = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or set(entry) != {"input", "output"}:
            raise ValueError(
                f"the price for {name!r} must have exactly the keys 'input' and 'output' "
                f"(USD per 1M tokens), like {_EXAMPLE}"
            )
        for key in ("input", "output"):
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(
                    f"the {key} price for {name!r} must be a number >= 0 (USD per 1M tokens), "
                    f"got {value!r}"
                )
        table[str(name)] = {"input": float(entry["input"]), "output": float(entry["output"])}
    return table
