"""The workspace's disk cache, shared by the result cache (``execution.cache``) and the plan cache
(``planning.plan_cache``): ``<workspace>/cache``, a ``diskcache.Cache`` (process-safe, shared by the CLI and the
server) bounded by ``cache.max_mb``, least recently used entries evicted first; lookups counted in the metrics."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from .config import HuggingGPTConfig

MB = 1024 * 1024


def cache_dir(config: HuggingGPTConfig) -> Path:
    """Where the workspace's caches live: ``<workspace>/cache``."""
    return Path(config.workspace_path) / "cache"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read a megabyte at a time (a key part of both caches)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def open_cache(directory: Path, max_mb: float) -> Any:
    """A process-safe on-disk cache of at most ``max_mb`` MB, least recently used entries evicted first.

    Writers call :func:`put`, which evicts one entry at a time (diskcache's own culling drops ten at once, the
    recently used among them in a small cache)."""
    import diskcache

    return diskcache.Cache(str(directory), size_limit=int(max_mb * MB), eviction_policy="least-recently-used",
                           cull_limit=0)


def put(cache: Any, key: str, value: Any) -> None:
    """Store ``value`` and evict least recently used entries until the cache is within its size limit."""
    cache.set(key, value)
    try:
        from diskcache.core import EVICTION_POLICY

        oldest = EVICTION_POLICY[cache.eviction_policy]["cull"].format(fields="key", now=0)
        for _ in range(10_000):
            if cache.volume() <= cache.size_limit:
                return
            row = cache._sql(oldest, (1,)).fetchone()  # the least recently read or written key
            if row is None or row[0] == key:
                return  # the new entry alone is over the limit; it goes at the next write
            cache.delete(row[0])
    except (ImportError, AttributeError, KeyError):  # another diskcache layout: its own culling, ten at a time
        cache.cull()


def workspace_cache(config: HuggingGPTConfig, shared: dict[str, Any]) -> Any:
    """The workspace cache object of this agent, opened once and kept in ``shared`` (the agent's lasting state)."""
    directory = cache_dir(config)
    held = shared.get("cache")
    if held is None or held[0] != directory:
        held = (directory, open_cache(directory, config.cache.max_mb))
        shared["cache"] = held
    return held[1]


def record(hit: bool, kind: str) -> None:
    """Count a lookup in the process metrics, where that module is present."""
    try:
        from .observability.metrics import record_cache
    except ImportError:  # metrics are optional
        return
    record_cache(hit, kind)
