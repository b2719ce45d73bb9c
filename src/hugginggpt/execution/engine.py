"""Which executor runs a run's expert calls: ``execution.engine`` (threads | ray) in the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backends.base import Backend
from ..catalog.cards import Catalog
from ..config import HuggingGPTConfig
from ..experts.pool import ExpertPool
from .calls import Executor
from .runner import ThreadExecutor


def make_executor(config: HuggingGPTConfig, pool: ExpertPool, backends: Mapping[str, Backend], catalog: Catalog,
                  shared: dict[str, Any]) -> Executor:
    """The executor for one run. ``shared`` is the agent's state that outlives runs (e.g. a Ray engine's actors,
    the workspace cache). With ``cache.enabled`` the engine's executor is wrapped in the result cache."""
    executor = _engine_executor(config, pool, backends, catalog, shared)
    if not config.cache.enabled:
        return executor
    from ..cachestore import workspace_cache
    from .cache import CachingExecutor

    return CachingExecutor(executor, workspace_cache(config, shared), backends, catalog.card_for)


def _engine_executor(config: HuggingGPTConfig, pool: ExpertPool, backends: Mapping[str, Backend], catalog: Catalog,
                     shared: dict[str, Any]) -> Executor:
    """The executor of ``execution.engine``."""
    threads = ThreadExecutor(pool, backends, catalog.card_for)
    if config.execution.engine == "threads":
        return threads
    if config.execution.engine == "ray":
        from .ray_executor import ray_executor

        return ray_executor(config, threads, backends, catalog.card_for, shared)
    from ..errors import ConfigError

    raise ConfigError(f"execution.engine: {config.execution.engine} is not available in this build.",
                      hint="Use execution.engine: threads.")
