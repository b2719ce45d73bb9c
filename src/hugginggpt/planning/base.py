"""The planner protocol and what a planner gets to see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..plan_schema import DEFAULT_MAX_PLAN_TASKS, Plan
from ..tasks import TaskRegistry


@dataclass(frozen=True)
class KnownResource:
    """A file the planner may refer to: a user file (by the name the user used) or an earlier run's output."""

    name: str  # how the plan should refer to it, e.g. "examples/cat.png" or an artifact path
    media: str  # text / image / audio / video
    origin: str = "user"  # "user" (given with the request or mentioned in it) or "history" (an earlier output)
    description: str = ""  # e.g. the caption produced for it in an earlier turn


@dataclass
class PlanContext:
    """Everything a planner may use besides the request text."""

    registry: TaskRegistry
    files: list[KnownResource] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)  # earlier chat turns (role/content)
    # The most tasks a plan may have, also after unfolding (config ``max_plan_tasks``); more is a PlanTooLarge.
    max_tasks: int = DEFAULT_MAX_PLAN_TASKS


@dataclass
class PlanOutcome:
    plan: Plan
    planner: str
    notes: list[str] = field(default_factory=list)  # repairs applied, re-asks, fallbacks
    raw: Any = None  # the planner's raw output (LLM text), for debugging


class Planner(Protocol):
    """Turns a request into a validated plan. Raises ``PlanError`` when it cannot."""

    name: str

    def plan(self, request: str, context: PlanContext) -> PlanOutcome: ...
