"""Shared loaders and helpers for the local hub task families: building a transformers pipeline over a local
directory, loading Auto classes on the chosen device and dtype, generation limits, and JSON-friendly results.

Transformers 5 dropped several pipelines (summarization, translation, text2text, question answering, image-to-text,
visual question answering). Those tasks are run directly with the Auto classes (``generate`` or span argmax), which
also works on transformers 4, so one code path serves both.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .registry import LoadOptions


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
