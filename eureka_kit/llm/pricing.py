"""Prices of models, in USD per million tokens, to turn token usage into cost.

A price table is JSON, model name -> input and output price per 1M tokens;
keys starting with ``_`` are comments::

    {
      "_note": "USD per 1M tokens",
      "gpt-4o-mini": {"input_per_1m": 0.15, "output_per_1m": 0.60},
      "my-local-llama": {"input_per_1m": 0, "output_per_1m": 0}
    }

A dated snapshot (``gpt-4o-2024-08-06``) is priced as its base name when it
has no entry of its own. A model not in the table gets token counts only and
``cost_usd = None``. The shipped :data:`DEFAULT_PRICES` are list prices of
common OpenAI models at the time of writing; check the provider's page and
pass your own table when it matters.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from eureka_kit.llm.errors import LLMConfigError

_DATED_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")

DEFAULT_PRICES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "gpt-5": (1.25, 10.00),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5-nano": (0.05, 0.40),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "gpt-4o": (2.50, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "o3": (2.00, 8.00),
        "o3-mini": (1.10, 4.40),
        "o4-mini": (1.10, 4.40),
        "gpt-4-turbo": (10.00, 30.00),
        "gpt-4": (30.00, 60.00),
        "gpt-3.5-turbo": (0.50, 1.50),
    }
)
"""(input, output) USD per 1M tokens of common OpenAI models (list prices, standard tier)."""


@dataclass(frozen=True)
class ModelPrice:
    """USD per million input (prompt) and output (completion) tokens."""

    input_per_1m: float
    output_per_1m: float

    def __post_init__(self) -> None:
        for name in ("input_per_1m", "output_per_1m"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_1m + completion_tokens * self.output_per_1m) / 1_000_000


@dataclass(frozen=True)
class PriceTable:
    """Model name -> :class:`ModelPrice`. Build with :meth:`default`, :meth:`load` or :meth:`from_dict`."""

    prices: Mapping[str, ModelPrice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prices", MappingProxyType(dict(self.prices)))

    @classmethod
    def default(cls) -> PriceTable:
        """The shipped table of common OpenAI models."""
        return cls({m: ModelPrice(i, o) for m, (i, o) in DEFAULT_PRICES.items()})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "price table") -> PriceTable:
        """Parse the JSON form (see the module docstring); errors name the source and the model."""
        if not isinstance(data, Mapping):
            raise LLMConfigError(f"{source}: expected a JSON object of model -> prices, got {type(data).__name__}")
        prices: dict[str, ModelPrice] = {}
        for model, entry in data.items():
            if str(model).startswith("_"):
                continue
            if not isinstance(entry, Mapping) or set(entry) != {"input_per_1m", "output_per_1m"}:
                raise LLMConfigError(
                    f"{source}: entry {model!r} must be an object with exactly "
                    f'"input_per_1m" and "output_per_1m" (USD per 1M tokens), got {entry!r}'
                )
            try:
                prices[str(model)] = ModelPrice(entry["input_per_1m"], entry["output_per_1m"])
            except ValueError as e:
                raise LLMConfigError(f"{source}: entry {model!r}: {e}") from None
        return cls(prices)

    @classmethod
    def load(cls, path: str | Path) -> PriceTable:
        """Read a JSON price table file."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as e:
            raise LLMConfigError(f"cannot read price table {p}: {e.strerror or e}") from None
        except json.JSONDecodeError as e:
            raise LLMConfigError(f"price table {p} is not valid JSON: {e.msg} at line {e.lineno}") from None
        return cls.from_dict(data, source=f"price table {p}")

    def merged(self, other: PriceTable) -> PriceTable:
        """This table with ``other``'s entries added or overriding."""
        return PriceTable({**self.prices, **other.prices})

    def lookup(self, *models: str) -> ModelPrice | None:
        """The price of the first of ``models`` found (exact name, then without a ``-YYYY-MM-DD`` suffix)."""
        for model in models:
            if model in self.prices:
                return self.prices[model]
            base = _DATED_SUFFIX.sub("", model)
            if base in self.prices:
                return self.prices[base]
        return None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """USD for these tokens, or ``None`` if the model has no price."""
        price = self.lookup(model)
        return None if price is None else price.cost(prompt_tokens, completion_tokens)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {m: {"input_per_1m": p.input_per_1m, "output_per_1m": p.output_per_1m} for m, p in self.prices.items()}
