"""The catalog as the agent sees it (bundled hub facts + synced numbers + the user's YAML entries), ``hugginggpt models
sync`` (refresh downloads/likes/tags from the hub) and ``hugginggpt models pull`` (download one model into the HF
cache, size shown first).

The bundled ``data/hub_models.json`` is never rewritten: a sync writes ``<workspace>/catalog/hub_models.json``, which
later catalogs overlay on the bundled cards (same id and task: numbers and tags updated; new ids added).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import HuggingGPTConfig
from ..errors import HuggingGPTError
from .cards import Catalog, ModelCard, user_cards

log = logging.getLogger(__name__)

PER_TASK = 30  # as the bundled catalog (JARVIS's p0_models: the 30 most liked per task)


class CatalogSyncError(HuggingGPTError):
    """The hub could not be reached or answered with an error."""

    code = "catalog_sync"


def synced_path(config: HuggingGPTConfig) -> Path:
    return config.workspace_path / "catalog" / "hub_models.json"


def build_catalog(config: HuggingGPTConfig, extra: list[ModelCard] | None = None,
                  remote: list[ModelCard] | None = None) -> Catalog:
    """Bundled + embedded + ``extra`` (e.g. the LLM's cards) + synced overlay + ``catalog_file`` entries + ``remote``
    cards (what model servers host) whose ids are not known yet."""
    catalog = Catalog.default(extra=extra)
    synced = synced_path(config)
    if synced.is_file():
        try:
            overlay(catalog, [ModelCard(**row, source="hub") for row in json.loads(synced.read_text("utf-8"))])
        except (OSError, ValueError, TypeError) as exc:
            log.warning("ignoring the synced catalog %s: %s", synced, exc)
    if config.catalog_file:
        for card in user_cards(Path(config.catalog_file).expanduser()):
            catalog.add(card)
    for card in remote or []:
        if catalog.get(card.id) is None:
            catalog.add(card)
    return catalog


def overlay(catalog: Catalog, fresh: list[ModelCard]) -> int:
    """Update cards with the same id and task; add the others. Returns how many cards changed or were added."""
    changed = 0
    index = {(c.id, c.task): i for i, c in enumerate(catalog.cards)}
    for card in fresh:
        i = index.get((card.id, card.task))
        if i is None:
            catalog.cards.append(card)
            catalog._by_id.setdefault(card.id, card)
        else:
            old = catalog.cards[i]
            new = old.model_copy(update={"downloads": card.downloads, "likes": card.likes,
                                         "tags": card.tags or old.tags, "license": card.license or old.license,
                                         "library": card.library or old.library})
            catalog.cards[i] = new
            if catalog._by_id.get(new.id) is old:
                catalog._by_id[new.id] = new
        changed += 1
    return changed


def _hub_error(exc: BaseException, doing: str) -> CatalogSyncError:
    name = type(exc).__name__
    if "Offline" in name:
        return CatalogSyncError(f"Cannot {doing}: huggingface_hub is in offline mode (HF_HUB_OFFLINE=1).",
                                hint="Unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE) on a machine with network.")
    return CatalogSyncError(f"Cannot {doing}: {name}: {exc}.",
                            hint="Check the network and, for gated/private models, HF_TOKEN.")


def _card_from_info(info: Any, task: str) -> ModelCard:
    tags = [t for t in (info.tags or []) if ":" not in t][:12]
    license_ = next((t.split(":", 1)[1] for t in (info.tags or []) if t.startswith("license:")), None)
    langs = [t for t in (info.tags or []) if len(t) == 2 and t.isalpha()][:10]
    return ModelCard(id=info.id, task=task, downloads=int(info.downloads or 0), likes=int(info.likes or 0),
                     tags=tags, license=license_, languages=langs, library=getattr(info, "library_name", None),
                     path=None)


def sync(config: HuggingGPTConfig, tasks: list[str] | None = None, per_task: int = PER_TASK,
         token: str | None = None) -> Path:
    """Fetch the most liked models of each catalog task from the hub and write the overlay file."""
    from huggingface_hub import HfApi

    api = HfApi(token=token or config.hub.hf_token)
    wanted = tasks or Catalog.default().tasks()
    rows: list[dict[str, Any]] = []
    for task in wanted:
        try:
            infos = list(api.list_models(pipeline_tag=task, sort="likes", limit=per_task,
                                         expand=["downloads", "likes", "tags", "library_name"]))
        except Exception as exc:
            raise _hub_error(exc, f"list {task} models on the hub") from exc
        rows += [_card_from_info(i, task).model_dump(exclude={"source", "description", "limitations",
                                                               "real_model", "path"}) for i in infos]
        log.info("synced %d %s models", len(infos), task)
    out = synced_path(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=0), encoding="utf-8")
    return out


@dataclass
class PullPlan:
    model_id: str
    files: list[tuple[str, int]]

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


def plan_pull(model_id: str, token: str | None = None) -> PullPlan:
    """What ``pull`` would download: the files with sizes (``model_info(files_metadata=True)``). When both
    safetensors and PyTorch ``.bin`` weights exist only the safetensors are taken, as transformers loads them."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(token=token).model_info(model_id, files_metadata=True)
    except Exception as exc:
        raise _hub_error(exc, f"look up {model_id} on the hub") from exc
    files = [(s.rfilename, int(s.size or 0)) for s in (info.siblings or [])]
    if any(f.endswith(".safetensors") for f, _ in files):
        files = [(f, s) for f, s in files if not f.endswith((".bin", ".h5", ".msgpack", ".ot", ".pt"))
                 or "tokenizer" in f]
    files = [(f, s) for f, s in files if not f.endswith((".onnx", ".tflite", ".mlmodel", ".gguf"))]
    return PullPlan(model_id, files)


def pull(plan: PullPlan, token: str | None = None, cache_dir: Path | None = None,
         confirm: Callable[[PullPlan], bool] | None = None, tqdm_class: type | None = None) -> Path | None:
    """Download the planned files into the HF cache, after ``confirm(plan)`` says yes. Returns the snapshot dir.
    ``tqdm_class`` draws the progress (the hub's own bars by default)."""
    from huggingface_hub import snapshot_download

    if confirm is not None and not confirm(plan):
        return None
    try:
        path = snapshot_download(plan.model_id, token=token, cache_dir=str(cache_dir) if cache_dir else None,
                                 allow_patterns=[f for f, _ in plan.files], tqdm_class=tqdm_class)
    except Exception as exc:
        raise _hub_error(exc, f"download {plan.model_id}") from exc
    return Path(path)
