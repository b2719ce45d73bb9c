"""How each task runs on the hub backends, by task name: the local transformers/diffusers code (a loader and a
runner per task, ``registry()``) and the hosted-inference calls (``hosted()``).

The code lives in the family modules, each registering its tasks in ``registry.py`` (``@hub_task`` /
``@hosted_call``); this module imports the families, so the tables are complete once it is imported. Why a task has
no local code path is a fact of ``tasks.yaml`` (``transformers: {none: ...}``), read here as ``NOT_COVERED``.
"""

from __future__ import annotations

from ...tasks import default_registry
from . import diffusion_tasks, hf_calls, text_tasks, vision_audio_tasks  # noqa: F401 - importing registers their tasks
from .registry import HOSTED, LOCAL, HostedCall, HubTask, LoadOptions

__all__ = ["NOT_COVERED", "HubTask", "LoadOptions", "hosted", "registry"]


def registry() -> dict[str, HubTask]:
    """All tasks the hub backends can run locally, by task name."""
    return dict(LOCAL)


def hosted() -> dict[str, HostedCall]:
    """All tasks hosted inference (``InferenceClient``) has a call for, by task name."""
    return dict(HOSTED)


# Tasks that no transformers/diffusers code path covers, and why (shown by can_serve and in docs); from tasks.yaml.
NOT_COVERED: dict[str, str] = {t.name: t.no_transformers for t in default_registry() if t.no_transformers}
