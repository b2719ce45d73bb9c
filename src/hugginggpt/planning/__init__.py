"""Stage 1: turn a request into a validated plan (a DAG of tasks)."""

from ..plan_schema import GENERATED, Plan, TaskSpec
from .validate import PlanIssue, repair_plan, validate_plan

__all__ = ["GENERATED", "Plan", "PlanIssue", "TaskSpec", "repair_plan", "validate_plan"]
