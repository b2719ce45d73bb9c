"""Every prompt the controller LLM gets, as typed data: YAML files holding Jinja2 templates, one loader.

- ``plan.yaml``: the ``llm`` planner (rules, task signatures, demos, re-asks);
- ``hybrid.yaml``: the ``hybrid`` planner's single constrained call;
- ``choose.yaml``: model choice (stage 2);
- ``respond.yaml``: the final answer (stage 4);
- ``taskbench_baseline.yaml``: the TaskBench paper's own prompt, for ``hugginggpt eval taskbench --planner baseline``.

:func:`prompt_version` hashes all of them: a cached plan is reused only under the prompts that made it.
"""

from __future__ import annotations

import hashlib
from functools import cache, lru_cache
from importlib import resources
from typing import Any, TypeVar

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict

NAMES = ("plan", "hybrid", "choose", "respond", "taskbench_baseline")


class ChatPrompt(BaseModel):
    """A system and a user template."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    system: str
    user: str


class PlanPrompt(ChatPrompt):
    """The ``llm`` planner's prompt: also its re-asks and few-shot demos."""

    reask_unparseable: str
    reask_issues: str
    demos: list[dict[str, Any]] = []  # {request, files: [{name, media}], tasks: [task specs]}


class BaselinePrompt(BaseModel):
    """The TaskBench paper's prompt, part by part, with its sampling settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    temperature: float
    max_tokens: int
    tools: str
    goal: str
    goal_parameters: str
    requirements: str
    demo: str
    request: str


P = TypeVar("P", bound=BaseModel)


def _text(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


@cache
def load(name: str, kind: type[P]) -> P:
    """The prompt file ``<name>.yaml``, checked against its type (cached; immutable)."""
    data = yaml.safe_load(_text(name))
    if not isinstance(data, dict):
        raise ValueError(f"prompt file {name}.yaml must hold a mapping")
    return kind.model_validate(data)


def plan_prompt() -> PlanPrompt:
    return load("plan", PlanPrompt)


def chat_prompt(name: str) -> ChatPrompt:
    return load(name, ChatPrompt)


def baseline_prompt() -> BaselinePrompt:
    return load("taskbench_baseline", BaselinePrompt)


@cache
def prompt_version() -> str:
    """A short hash of every prompt file."""
    h = hashlib.sha256()
    for name in NAMES:
        h.update(_text(name).encode("utf-8"))
    return h.hexdigest()[:16]


# Prompts are plain text, not HTML: no autoescape. StrictUndefined so a missing variable fails loudly in tests.
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=64)
def _compile(template: str) -> jinja2.Template:
    return _ENV.from_string(template)


def render(template: str, **variables: Any) -> str:
    """Render one Jinja2 template string from a prompt file."""
    return _compile(template).render(**variables).strip()
