"""The embedded expert registry: one module per task family, each exporting ``EXPERTS`` (a list of Expert classes).

Each expert class names its task (``task``, a task of ``tasks.yaml``) and is listed in ``tasks.yaml`` under that
task's ``offline`` models (``tests/test_task_coverage.py`` checks both). Adding an expert = one class in a family
module (or a new module + its name in ``FAMILY_MODULES``). Modules must not import heavy libraries at import time;
experts import them in ``_load``.
"""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache

from .base import Expert

log = logging.getLogger(__name__)

FAMILY_MODULES = (
    "hugginggpt.experts.embedded.vision",
    "hugginggpt.experts.embedded.caption",
    "hugginggpt.experts.embedded.ocr",
    "hugginggpt.experts.embedded.audio",
    "hugginggpt.experts.embedded.text",
    "hugginggpt.experts.embedded.enhance",
    "hugginggpt.experts.embedded.lines",
)


@lru_cache(maxsize=1)
def embedded_expert_classes() -> tuple[type[Expert], ...]:
    classes: list[type[Expert]] = []
    for name in FAMILY_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # family not written yet / removed
                continue
            log.warning("expert family %s cannot be imported: %s", name, exc)
            continue
        classes.extend(getattr(module, "EXPERTS", []))
    return tuple(classes)


def experts_for_task(task: str) -> list[type[Expert]]:
    return [c for c in embedded_expert_classes() if c.task == task]
