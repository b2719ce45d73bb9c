"""The result cache: an :class:`Executor` that answers a repeated call of a deterministic expert from disk.

A call is cached only when its expert is deterministic (same inputs, same bytes out) and its revision is known:

* ``embedded``: the expert class says ``deterministic = True``; the revision is hugginggpt's version plus the version
  of each module the expert needs (its weights' packages among them: the distribution of that name, else the size
  and mtime of the module's file);
* ``transformers``: every non-diffusers task except the sampling ones (``text-generation``, ``text-to-speech``, ...),
  and a text-generating task (summary, translation, caption, ...) only when the checkpoint's generation config does
  not sample; the revision is the HF cache snapshot (the commit hash) of the local weights, or a listing (names,
  sizes, mtimes) of a user's model directory;
* ``http`` (model servers): the same task rule, without the text-generating tasks (the server's generation config
  is not visible); the revision is the server URL and the model id;
* ``hf-inference`` and ``llm`` never: a hosted model changes without notice, the controller LLM samples.

The key is a SHA-256 over the backend, model id, revision, task, each text input (Unicode NFC, stripped) and the
SHA-256 of each media input's bytes. The value is the reply (outputs as text or bytes, and facts). Entries live in
``<workspace>/cache/`` (a ``diskcache.Cache``: process-safe, shared by the CLI and the server), bounded by
``cache.max_mb`` and evicted least recently used first. A broken cache never fails a task: the call runs uncached.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata as md
import importlib.util
import json
import logging
import os
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from opentelemetry import trace

from ..backends.base import Backend
from ..cachestore import file_sha256, put, record
from ..catalog.cards import ModelCard
from .calls import Executor, ExpertCall, ExpertReply, MediaInput
from .outputs import CheckedOutput

log = logging.getLogger(__name__)

KEY_VERSION = 1
# Hub tasks whose models may sample (a generation config with do_sample, a vocoder with noise): never cached.
SAMPLING_TASKS = frozenset({"text-generation", "conversational", "text-to-speech", "text-to-audio"})
NEVER_CACHED = frozenset({"hf-inference", "llm"})
# Hub tasks that decode text with ``generate``: deterministic unless the checkpoint's generation config samples.
GENERATING_TASKS = frozenset({"summarization", "translation", "text2text-generation", "image-to-text",
                              "automatic-speech-recognition", "visual-question-answering"})


# -- revisions ----------------------------------------------------------------------------------------------------


def module_revision(module: str) -> str:
    """The installed version of the distribution named like ``module`` (``faster_whisper``, ``spacy``...), else
    the size and modification time of the module's file (``cv2`` from opencv-python, ``piper`` from piper-tts: a
    reinstall rewrites it). Cheap: no module is imported and the installed distributions are not scanned."""
    for name in (module, module.replace("_", "-")):
        try:
            return f"{name}=={md.version(name)}"
        except md.PackageNotFoundError:
            continue
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not os.path.exists(spec.origin):
        return f"{module}:absent"
    st = os.stat(spec.origin)
    return f"{module}@{st.st_size}:{st.st_mtime_ns}"


@lru_cache(maxsize=256)
def embedded_revision(expert: type) -> str:
    """hugginggpt's version and the revisions of the modules an expert needs (its weights' packages among them)."""
    modules = sorted(set(getattr(expert, "requires", ())))
    return ";".join([module_revision("hugginggpt"), *(module_revision(m) for m in modules)])


def directory_revision(path: Path) -> str:
    """The commit of an HF cache snapshot (``.../snapshots/<commit>``), or a listing hash of any other directory."""
    path = Path(path)
    if path.parent.name == "snapshots" and len(path.name) >= 7:
        return f"commit:{path.name}"
    digest = hashlib.sha256()
    for root, _dirs, files in sorted(os.walk(path)):
        for name in sorted(files):
            st = os.stat(os.path.join(root, name))
            digest.update(f"{os.path.relpath(os.path.join(root, name), path)}:{st.st_size}:{st.st_mtime_ns}\n"
                          .encode())
    return f"files:{digest.hexdigest()[:20]}"


def samples(model_dir: Path) -> bool:
    """Whether a local checkpoint's generation config turns sampling on (``do_sample``)."""
    config = Path(model_dir) / "generation_config.json"
    try:
        return bool(json.loads(config.read_text(encoding="utf-8")).get("do_sample")) if config.is_file() else False
    except (OSError, ValueError, AttributeError):
        return True  # unreadable: assume it samples


def _hub_deterministic(task: str) -> bool:
    from ..experts.hub.tasks import registry

    hub = registry().get(task)
    return hub is not None and hub.library != "diffusers" and task not in SAMPLING_TASKS


@runtime_checkable
class LocalWeights(Protocol):
    """A backend that runs weights from a local directory (transformers)."""

    def weights_dir(self, card: ModelCard) -> Path | None: ...


class HostingServer(Protocol):
    url: str

    def hosts(self, card: ModelCard) -> bool: ...


@runtime_checkable
class ServerBackend(Protocol):
    """A backend whose models run on servers (http): the revision is the server that hosts the model."""

    @property
    def servers(self) -> Sequence[HostingServer]: ...


def revision(call: ExpertCall, backends: Mapping[str, Backend],
             card: Callable[[str, str], ModelCard | None]) -> str | None:
    """The revision of a deterministic expert, or None when its results must not be reused (blocking)."""
    if call.backend in NEVER_CACHED:
        return None
    backend = backends.get(call.backend)
    if backend is None:
        return None
    if call.backend == "embedded":
        from ..experts.registry import embedded_expert_classes

        cls = next((c for c in embedded_expert_classes() if c.model_id == call.model_id), None)
        return embedded_revision(cls) if cls is not None and getattr(cls, "deterministic", False) else None
    model = card(call.model_id, call.task)
    if model is None or not _hub_deterministic(call.task):
        return None
    if call.backend == "transformers" and isinstance(backend, LocalWeights):
        source = backend.weights_dir(model)
        if source is None or (call.task in GENERATING_TASKS and samples(source)):
            return None
        return directory_revision(source)
    # a model server's generation config is unseen: its generating tasks are never cached
    if call.backend == "http" and call.task not in GENERATING_TASKS and isinstance(backend, ServerBackend):
        server = next((s for s in backend.servers if s.hosts(model)), None)
        return f"{server.url}|{call.model_id}" if server is not None else None
    return None


# -- keys and values ----------------------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def media_sha256(media: MediaInput) -> str:
    if media.sha256:
        return media.sha256
    if media.data is not None:
        return hashlib.sha256(media.data).hexdigest()
    return file_sha256(media.path)


def result_key(call: ExpertCall, rev: str) -> str:
    """The cache key of a call to a deterministic expert at revision ``rev``."""
    inputs = {slot: ({"media": v.kind, "sha256": media_sha256(v)} if isinstance(v, MediaInput)
                     else {"text": normalize_text(str(v))}) for slot, v in sorted(call.inputs.items())}
    body = json.dumps({"v": KEY_VERSION, "backend": call.backend, "model": call.model_id, "revision": rev,
                       "task": call.task, "inputs": inputs}, sort_keys=True, ensure_ascii=False)
    return "result:" + hashlib.sha256(body.encode()).hexdigest()


def _pack(reply: ExpertReply) -> dict[str, Any]:
    return {"outputs": [(o.kind, o.text, o.data, o.ext) for o in reply.outputs], "facts": reply.facts,
            "worker": reply.worker}


def _unpack(value: Any) -> ExpertReply | None:
    try:
        outputs = [CheckedOutput(kind=k, text=t, data=d, ext=e) for k, t, d, e in value["outputs"]]
        return ExpertReply(outputs=outputs, facts=dict(value["facts"]), worker=str(value.get("worker", "")),
                           cached=True)
    except (KeyError, TypeError, ValueError):
        return None


# -- the executor -------------------------------------------------------------------------------------------------


class CachingExecutor:
    """Wraps any executor: a deterministic expert's repeated call is answered from the cache (``reply.cached``)."""

    def __init__(self, inner: Executor, cache: Any, backends: Mapping[str, Backend],
                 card: Callable[[str, str], ModelCard | None]) -> None:
        self.inner = inner
        self.cache = cache
        self.backends = backends
        self.card = card
        self.name = f"{inner.name}+cache"

    def _lookup(self, call: ExpertCall) -> tuple[str | None, ExpertReply | None]:
        """(the key, the cached reply) of a call; (None, None) when the call is not cacheable (blocking)."""
        try:
            rev = revision(call, self.backends, self.card)
            if rev is None:
                return None, None
            key = result_key(call, rev)
            value = self.cache.get(key)
        except Exception as exc:  # noqa: BLE001 - an unknown revision or a broken cache: the call runs uncached
            log.warning("result cache: lookup of %s failed (%s: %s); running uncached", call.model_id,
                        type(exc).__name__, exc)
            return None, None
        return key, (_unpack(value) if value is not None else None)

    def _store(self, key: str, reply: ExpertReply) -> None:
        try:
            put(self.cache, key, _pack(reply))
        except Exception as exc:  # noqa: BLE001 - a full disk must not fail the task that produced the result
            log.warning("result cache: storing %s failed (%s: %s)", key[:20], type(exc).__name__, exc)

    async def call(self, call: ExpertCall) -> ExpertReply:
        key, hit = await asyncio.to_thread(self._lookup, call)
        if key is None:
            return await self.inner.call(call)
        span = trace.get_current_span()
        span.set_attribute("cache.hit", hit is not None)
        record(hit is not None, "result")
        if hit is not None:
            return hit
        reply = await self.inner.call(call)
        await asyncio.to_thread(self._store, key, reply)
        return reply

    def close(self) -> None:
        """Closes the wrapped executor; the cache itself outlives the run (it is the agent's)."""
        self.inner.close()
