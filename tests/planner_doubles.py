"""A planner test double: stage 1 is not under test, the plan is given (and goes through the real repair code)."""

from __future__ import annotations

from typing import Any

from hugginggpt.planning.base import PlanContext, PlanOutcome
from hugginggpt.planning.validate import repair_plan
from hugginggpt.tasks import default_registry


class FixedPlanner:
    """Returns the plan it was given, through the real repair/validation code."""

    name = "fixed"

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = tasks

    def plan(self, request: str, context: PlanContext) -> PlanOutcome:
        plan, notes = repair_plan(self.tasks, default_registry())
        return PlanOutcome(plan=plan, planner=self.name, notes=notes)
