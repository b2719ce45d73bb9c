"""Which executor runs a run's expert calls: ``execution.engine`` (threads | ray) in the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..catalog.cards import Catalog
from ..config import HuggingGPTConfig
from ..experts.pool import ExpertPool
from .calls import Executor
from .runner import ThreadExecutor


def make_executor(config: HuggingGPTConfig, pool: ExpertPool, backends: Mapping[str, Any], catalog: Catalog,
                  shared: dict[str, Any]) -> Executor:
    """The executor for one run. ``shared`` is the agent's state that outlives runs (e.g. a Ray engine's actors)."""
    threads = ThreadExecutor(pool, backends, catalog.get)
    if config.execution.engine == "threads":
        return threads
    from ..errors import ConfigError

    raise ConfigError(f"execution.engine: {config.execution.engine} is not available in this build.",
                      hint="Use execution.engine: threads.")
