"""Stage 3: run the plan's tasks, each as soon as its inputs exist."""

from .scheduler import Scheduler

__all__ = ["Scheduler"]
