"""Where a hub model's weights are on this machine, and which device and dtype to run it with.

Weights are only ever read from disk here: a card's ``path`` (a local directory) or the Hugging Face cache
(``snapshot_download(local_files_only=True)``). Nothing is downloaded; ``hugginggpt models pull`` does that on request.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from functools import lru_cache
from pathlib import Path

from ...errors import ConfigError

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5")


def has_weights(directory: Path) -> bool:
    """A directory holds a loadable model: a ``config.json`` (transformers) or ``model_index.json`` (diffusers) and
    at least one weights file somewhere below it."""
    if not directory.is_dir():
        return False
    if not ((directory / "config.json").is_file() or (directory / "model_index.json").is_file()):
        return False
    return any(p.suffix in WEIGHT_SUFFIXES and p.is_file() for p in directory.rglob("*"))


def cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def cached_snapshot(repo_id: str, cache: Path | None = None) -> Path | None:
    """The local snapshot directory of ``repo_id`` in the HF cache, or None when it is not (fully) there."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    root = cache or cache_dir()
    if not (root / ("models--" + repo_id.replace("/", "--"))).is_dir():
        return None  # cheap negative answer for the hundreds of catalog models that are not there
    try:
        path = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=str(root)))
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError) as exc:
        log.debug("%s is not in the HF cache: %s", repo_id, exc)
        return None
    return path if has_weights(path) else None


def locate(model_id: str, path: str | None, cache: Path | None = None) -> tuple[Path | None, str]:
    """Where the weights of a model are: ``(directory, how)`` or ``(None, why not)``."""
    if path:
        p = Path(path).expanduser()
        if has_weights(p):
            return p, f"local directory {p}"
        return None, f"{p} has no config.json/model_index.json with weights"
    snap = cached_snapshot(model_id, cache)
    if snap is not None:
        return snap, "in the Hugging Face cache"
    return None, "weights not in the local Hugging Face cache (hugginggpt models pull " + model_id + ")"


@lru_cache(maxsize=1)
def torch_stack() -> tuple[bool, str]:
    """Whether torch and transformers are importable (checked without importing them)."""
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"missing Python package(s): {', '.join(missing)} (pip install 'hugginggpt[hub]')"
    return True, "torch + transformers installed"


def diffusers_installed() -> bool:
    return importlib.util.find_spec("diffusers") is not None


def pick_device(setting: str = "auto") -> str:
    """``auto`` → cuda when a GPU is visible, else mps (Apple), else cpu; anything else is used as given."""
    if setting and setting != "auto":
        return setting
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(setting: str, device: str) -> object:
    """A torch dtype: ``auto`` → bfloat16 (or float16) on a GPU, float32 elsewhere; or the named one."""
    import torch

    if setting and setting != "auto":
        try:
            return getattr(torch, setting)
        except AttributeError:
            raise ConfigError(f"Unknown dtype {setting!r}.", hint="Use auto, float32, float16 or bfloat16.") from None
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def offline() -> bool:
    """True when huggingface_hub is told not to use the network (HF_HUB_OFFLINE)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
