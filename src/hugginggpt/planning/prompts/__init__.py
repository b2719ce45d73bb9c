"""Prompt data files (YAML holding Jinja2 templates) for the controller LLM: planning, model choice, answer."""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml


@cache
def load_prompts(name: str) -> dict[str, Any]:
    """The parsed prompt file ``<name>.yaml`` of this package (cached; treat it as read-only)."""
    text = resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"prompt file {name}.yaml must hold a mapping")
    return data


@cache
def _environment() -> Any:
    import jinja2

    # Prompts are plain text, not HTML: no autoescape. StrictUndefined so a missing variable fails loudly in tests.
    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=64)
def _compile(template: str) -> Any:
    return _environment().from_string(template)


def render(template: str, **variables: Any) -> str:
    """Render one Jinja2 template string from a prompt file."""
    return _compile(template).render(**variables).strip()
