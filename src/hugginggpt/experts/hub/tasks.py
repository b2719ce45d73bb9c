"""How each task runs on a local hub model: a loader (weights directory → loaded state) and a runner (state +
resolved inputs → ``ExpertResult``), registered per task name. Add a task = one ``HubTask`` in a family module.

Transformers 5 dropped several pipelines (summarization, translation, text2text, question answering, image-to-text,
visual question answering). Those tasks are run here directly with the Auto classes (``generate`` or span argmax),
which also works on transformers 4, so one code path serves both.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import ExpertResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadOptions:
    device: str = "cpu"
    dtype: Any = None  # a torch dtype
    max_new_tokens: int = 128
    extra: dict[str, Any] | None = None  # e.g. controlnet_base for ControlNet cards


@dataclass(frozen=True)
class HubTask:
    """One task on the transformers (or diffusers) backend."""

    name: str
    load: Callable[[Path, LoadOptions], Any]
    run: Callable[[Any, dict[str, Any]], ExpertResult]
    library: str = "transformers"  # or "diffusers" (an optional extra)
    note: str = ""


def pipeline_loader(tf_task: str, **call_defaults: Any) -> Callable[[Path, LoadOptions], Any]:
    """A loader that builds ``transformers.pipeline(tf_task)`` over a local directory."""

    def load(path: Path, opts: LoadOptions) -> Any:
        from transformers import pipeline as make_pipeline

        pipeline: Any = make_pipeline  # typed overloads per task name; ours is a variable

        kwargs: dict[str, Any] = {"model": str(path), "device": opts.device}
        # transformers 5 calls it ``dtype``; 4.x ``torch_dtype``.
        kwargs["dtype" if "dtype" in inspect.signature(pipeline).parameters else "torch_dtype"] = opts.dtype
        pipe = pipeline(tf_task, **kwargs, **call_defaults)
        cap_tokenizer(getattr(pipe, "tokenizer", None), pipe.model)
        pipe._hugginggpt_opts = opts  # runners read max_new_tokens from here
        return pipe

    return load


def cap_tokenizer(tokenizer: Any, model: Any) -> Any:
    """Tokenizers saved without ``model_max_length`` report a huge limit, so ``truncation=True`` would not stop a
    long input from overflowing the position embeddings: cap it at the model's own limit."""
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if tokenizer is not None and limit and getattr(tokenizer, "model_max_length", 0) > 1_000_000:
        tokenizer.model_max_length = int(limit)
    return tokenizer


def to_device(model: Any, opts: LoadOptions) -> Any:
    """Put a model loaded with the Auto classes on the chosen device and dtype, in eval mode."""
    model = model.to(opts.device)
    if opts.dtype is not None and opts.device != "cpu":
        model = model.to(opts.dtype)
    return model.eval()


def from_pretrained(auto_cls: Any, path: Path, opts: LoadOptions) -> Any:
    kwargs: dict[str, Any] = {}
    if opts.dtype is not None:
        kwargs["dtype"] = opts.dtype
    try:
        model = auto_cls.from_pretrained(str(path), **kwargs)
    except TypeError:  # transformers 4.x before the ``dtype`` rename
        model = auto_cls.from_pretrained(str(path), torch_dtype=opts.dtype)
    return to_device(model, opts)


def generation_kwargs(model: Any, cap: int) -> dict[str, Any]:
    """``max_new_tokens`` for ``generate`` unless the checkpoint sets its own lengths (e.g. bart-large-cnn: 56-142
    tokens), which then win over our generic cap."""
    gen = getattr(model, "generation_config", None)
    own = gen is not None and (gen.max_new_tokens is not None or (gen.max_length or 20) != 20)
    return {} if own else {"max_new_tokens": cap}


def plain(value: Any) -> Any:
    """numpy/torch scalars and nested containers → JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if k not in ("mask",)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, float):
        return round(value, 6)
    return value


def registry() -> dict[str, HubTask]:
    """All tasks the hub backends can run locally, by task name."""
    from . import diffusion_tasks, text_tasks, vision_audio_tasks

    out: dict[str, HubTask] = {}
    for module in (text_tasks, vision_audio_tasks, diffusion_tasks):
        for task in module.TASKS:
            out[task.name] = task
    return out


# Tasks of the catalog that no transformers/diffusers code path covers, and why (shown by can_serve and docs).
# Every task of tasks.yaml has a code path in some backend or an entry here (tests/test_task_coverage.py).
NOT_COVERED = {
    "tabular-classification": "catalog models are scikit-learn/keras pickles, not transformers models",
    "audio-to-audio": "catalog models are asteroid/speechbrain/espnet checkpoints; transformers has no pipeline",
    "hed-control": "needs ControlNet's HED annotator (controlnet_aux HEDdetector, a torch network); controlnet-aux "
                   "installs from PyPI but fetches its weights (lllyasviel/Annotators ControlNetHED.pth) from the "
                   "hub at run time, and no package ships them: a JARVIS models_server runs it",
    "normal-control": "needs ControlNet's normal-map annotator (controlnet_aux NormalBaeDetector, or MiDaS normals in "
                      "ControlNet 1.0); controlnet-aux installs from PyPI but fetches its weights "
                      "(lllyasviel/Annotators scannet.pt) from the hub at run time, and no package ships them: a "
                      "JARVIS models_server runs it",
}
