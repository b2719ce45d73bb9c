"""The ``transformers`` backend: catalog models whose weights are on this machine, run with transformers pipelines
(or the Auto classes where transformers 5 has no pipeline) and, when the optional ``diffusers`` is installed, diffusion
pipelines.

Weights come from a card's ``path`` (a local directory; user catalog entries) or the local Hugging Face cache, never
from the network. Models load lazily on first use into the shared ``ExpertPool``, which unloads the least recently
used one when the memory budget would be exceeded. Without torch/transformers this module still imports: the backend
reports itself unavailable.
"""

from __future__ import annotations

import gc
import logging
import time
from functools import partial
from pathlib import Path
from typing import Any

from ..catalog.cards import ModelCard
from ..config import HuggingGPTConfig
from ..errors import ExpertError, ExpertUnavailable, HuggingGPTError
from ..experts.base import Expert, ExpertResult
from ..experts.hub import local
from ..experts.hub.tasks import NOT_COVERED, HubTask, LoadOptions, registry
from ..experts.pool import ExpertPool

log = logging.getLogger(__name__)

# Catalog ``library`` values whose checkpoints transformers/diffusers cannot load even when they are in the cache.
FOREIGN_LIBRARIES = {"fairseq", "keras", "ultralytics", "sklearn", "yolov5", "nemo", "mlconsole", "paddlenlp", "doctr",
                     "mindspore", "espnet", "adapter-transformers", "stable-baselines3", "speechbrain", "asteroid",
                     "timm", "fastai", "spacy", "sentence-transformers-onnx"}
_LOOKUP_TTL = 30.0  # seconds a "weights here / not here" answer is trusted (a pull may add weights meanwhile)


class TransformersExpert(Expert):
    """A hub model run locally: its card's identity, its weights directory and the load options are instance data
    (the pool holds one instance per model id)."""

    backend = "transformers"
    requires = ("torch", "transformers")

    def __init__(self, card: ModelCard, source: Path, hub_task: HubTask, options: LoadOptions) -> None:
        super().__init__()
        self.model_id = card.id
        self.task = card.task
        self.source = source
        self.hub_task = hub_task
        self.options = options
        self._model: Any = None

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            self._model = self.hub_task.load(self.source, self.options)
        except HuggingGPTError:
            raise
        except ImportError as exc:
            raise ExpertUnavailable(f"{self.model_id} needs a missing package: {exc}.",
                                    hint="pip install 'hugginggpt[hub]'") from exc
        except Exception as exc:
            raise ExpertUnavailable(f"Cannot load {self.model_id} for {self.task} from {self.source}: "
                                    f"{type(exc).__name__}: {exc}",
                                    hint="Check that the directory holds a complete model for this task.") from exc
        _touch_weights(self._model)
        log.info("transformers: %s ready on %s in %.2fs", self.model_id, self.options.device, time.perf_counter() - t0)

    def _unload(self) -> None:
        self._model = None
        gc.collect()
        if self.options.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        self.load()
        try:
            result = self.hub_task.run(self._model, inputs)
        except HuggingGPTError:
            raise
        except Exception as exc:
            raise ExpertError(f"{self.model_id} failed on {self.task}: {type(exc).__name__}: {exc}") from exc
        result.data.setdefault("backend", "transformers")
        result.data.setdefault("device", self.options.device)
        return result


def _touch_weights(state: Any) -> None:
    """Read every CPU weight once. transformers maps safetensors files lazily, so without this a model's memory
    would appear at its first inference instead of during ``load()``, where the pool measures (and budgets) it."""
    import torch

    parts = list(state) if isinstance(state, tuple | list) else [state, getattr(state, "model", None)]
    with torch.no_grad():
        for part in parts:
            if isinstance(part, torch.nn.Module):
                for tensor in part.state_dict().values():
                    if tensor.device.type == "cpu" and tensor.numel():
                        tensor.float().sum() if tensor.is_floating_point() else tensor.sum()


class TransformersBackend:
    """Runs catalog models whose weights are present locally. See the module docstring."""

    name = "transformers"

    def __init__(self, pool: ExpertPool, *, device: str = "auto", dtype: str = "auto", cache_dir: Path | None = None,
                 max_new_tokens: int = 128, controlnet_base: str | None = None,
                 diffusion_steps: int | None = None) -> None:
        self.pool = pool
        self.device_setting = device
        self.dtype_setting = dtype
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.max_new_tokens = max_new_tokens
        self.controlnet_base = controlnet_base
        self.diffusion_steps = diffusion_steps
        self._tasks: dict[str, HubTask] | None = None
        self._lookups: dict[tuple[str, str | None], tuple[float, Path | None, str]] = {}
        self._options: LoadOptions | None = None

    @classmethod
    def from_config(cls, pool: ExpertPool, config: HuggingGPTConfig) -> TransformersBackend:
        hub = config.hub
        return cls(pool, device=hub.device, dtype=hub.dtype, cache_dir=hub.hf_cache_dir,
                   max_new_tokens=hub.max_new_tokens, controlnet_base=hub.controlnet_base,
                   diffusion_steps=hub.diffusion_steps)

    @property
    def tasks(self) -> dict[str, HubTask]:
        if self._tasks is None:
            self._tasks = registry()
        return self._tasks

    def status(self) -> tuple[bool, str]:
        ok, reason = local.torch_stack()
        if not ok:
            return False, reason
        extra = "diffusers installed" if local.diffusers_installed() else \
            "diffusers not installed: text-to-image/video and ControlNet tasks off (optional extra)"
        return True, f"{reason}; device {self.device_setting}, dtype {self.dtype_setting}; {extra}"

    def locate(self, card: ModelCard) -> tuple[Path | None, str]:
        key = (card.id, card.path)
        hit = self._lookups.get(key)
        if hit and time.monotonic() - hit[0] < _LOOKUP_TTL:
            return hit[1], hit[2]
        path, how = local.locate(card.id, card.path, self.cache_dir)
        self._lookups[key] = (time.monotonic(), path, how)
        return path, how

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        if card.source in ("embedded", "llm"):
            return False, "not a hub model"
        task = self.tasks.get(card.task)
        if task is None:
            return False, NOT_COVERED.get(card.task, f"no transformers/diffusers code path for {card.task}")
        if card.library and card.library.lower() in FOREIGN_LIBRARIES:
            return False, f"a {card.library} checkpoint, which transformers cannot load"
        ok, reason = local.torch_stack()
        if not ok:
            return False, reason
        if task.library == "diffusers" and not local.diffusers_installed():
            return False, "needs diffusers, which is not installed (optional extra: pip install 'hugginggpt[hub]')"
        path, how = self.locate(card)
        return (path is not None), how

    def load_options(self) -> LoadOptions:
        if self._options is None:
            device = local.pick_device(self.device_setting)
            extra = {"controlnet_base": self.controlnet_base, "diffusion_steps": self.diffusion_steps}
            self._options = LoadOptions(device=device, dtype=local.pick_dtype(self.dtype_setting, device),
                                        max_new_tokens=self.max_new_tokens,
                                        extra={k: v for k, v in extra.items() if v is not None})
        return self._options

    def weights_dir(self, card: ModelCard) -> Path | None:
        """The local directory of the card's weights, or None when they are not on this machine."""
        return self.locate(card)[0]

    def make_expert(self, card: ModelCard) -> TransformersExpert:
        """A new (not yet loaded) expert for the card. Raises ``ExpertUnavailable`` when it cannot run here."""
        path, why = self.locate(card)
        if path is None:
            raise ExpertUnavailable(f"{card.id} cannot run on the transformers backend: {why}.",
                                    hint=f"hugginggpt models pull {card.id}, or set the card's path.")
        task = self.tasks.get(card.task)
        if task is None:
            raise ExpertUnavailable(f"The transformers backend has no code path for {card.task}.")
        return TransformersExpert(card, path, task, self.load_options())

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        return self.pool.get_or_make(card.id, partial(self.make_expert, card))
