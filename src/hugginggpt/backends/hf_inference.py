"""The ``hf-inference`` backend: catalog models run by Hugging Face's hosted inference through huggingface_hub's
``InferenceClient``, one typed call per task (see ``hub/hf_calls.py``).

- Token: config ``hf_token``, else env ``HF_TOKEN`` / the saved ``huggingface-cli login`` token.
- URL: by default the ``hf-inference`` provider of the Hugging Face router; config ``hf_inference_url`` points it at
  any server with the same API (models are posted to ``<url>/models/<id>``): a proxy, a self-hosted replica, or the
  local recording server of the tests.
- Availability: whether the hosted service deploys a model (hub ``model_info(expand=["inference"])`` → ``warm``; for a
  custom URL the legacy ``GET <url>/status/<id>`` → ``{"loaded": true}`` that JARVIS used), cached for
  ``hf_status_ttl`` seconds; a service that cannot be reached is skipped for a while instead of probed per model.
- Errors: 401/403 ``HubAuthError``, 404 ``HubModelNotFound``, 429 ``HubRateLimited``, 503 ``HubModelLoading``, timeouts
  ``RemoteTimeout`` (all ``ExpertError`` subclasses, most ``ExpertUnavailable``).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from typing import Any

from ..catalog.cards import ModelCard
from ..config import HuggingGPTConfig
from ..errors import ExpertError, HuggingGPTError
from ..experts.base import Expert, ExpertResult
from ..experts.hub.errors import ModelServerUnreachable, RemoteTimeout, error_for_status
from ..experts.hub.tasks import hosted

log = logging.getLogger(__name__)

_DOWN_S = 30.0  # after a connection failure, skip probing the service for this long
# The selector asks about a task's cards most-liked first; like JARVIS (its first 10 candidates per task), only the
# top ones are probed over the network, so a selection costs a few requests, not thirty.
MAX_PROBES_PER_TASK = 10


def map_error(exc: BaseException, what: str) -> HuggingGPTError:
    """huggingface_hub / httpx exceptions → our named errors."""
    if isinstance(exc, HuggingGPTError):
        return exc
    name = type(exc).__name__
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(exc, TimeoutError) or "Timeout" in name:
        return RemoteTimeout(f"{what} did not answer in time.", hint="Retry, raise hf_timeout, or run it locally.")
    if status is not None:
        try:
            detail = str(getattr(response, "text", ""))
        except Exception:  # noqa: BLE001 - a streamed/closed body has no text; the status is enough
            detail = ""
        return error_for_status(int(status), what, detail)
    if "Offline" in name:
        return ModelServerUnreachable(f"{what}: huggingface_hub is in offline mode (HF_HUB_OFFLINE=1).",
                                      hint="Unset HF_HUB_OFFLINE to use hosted inference.")
    if "Connect" in name or "Network" in name or isinstance(exc, ConnectionError):
        return ModelServerUnreachable(f"{what} cannot be reached: {exc}.", hint="Check the network and the URL.")
    return ExpertError(f"{what} failed: {name}: {exc}")


class HFInferenceExpert(Expert):
    """One hosted model. Cheap to build: nothing loads locally."""

    backend = "hf-inference"

    def __init__(self, backend: HFInferenceBackend, card: ModelCard) -> None:
        super().__init__()
        self._backend = backend
        self.card_ = card
        self.model_id = card.id
        self.task = card.task
        self._loaded = True

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        call = hosted()[self.task]
        client, model = self._backend.client(self.model_id)
        try:
            result = call(client, model, inputs)
        except Exception as exc:
            raise map_error(exc, f"hf-inference for {self.model_id}") from exc
        result.data.setdefault("backend", "hf-inference")
        return result


class HFInferenceBackend:
    """Hosted inference through ``InferenceClient``. See the module docstring."""

    name = "hf-inference"

    def __init__(self, *, token: str | None = None, base_url: str | None = None, timeout: float = 60.0,
                 status_ttl: float = 600.0) -> None:
        self.token = token
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        self.status_ttl = status_ttl
        self._status: dict[str, tuple[float, bool, str]] = {}
        self._probed: dict[str, dict[str, float]] = {}  # task -> model id -> when probed
        self._down_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: HuggingGPTConfig) -> HFInferenceBackend:
        hub = config.hub
        return cls(token=hub.hf_token, base_url=hub.hf_inference_url, timeout=hub.hf_timeout,
                   status_ttl=hub.hf_status_ttl)

    def resolved_token(self) -> str | None:
        if self.token:
            return self.token
        from huggingface_hub import get_token

        return get_token()  # env HF_TOKEN, then the saved login

    def status(self) -> tuple[bool, str]:
        if importlib.util.find_spec("huggingface_hub") is None:
            return False, "huggingface_hub is not installed"
        from huggingface_hub import constants

        if constants.is_offline_mode():
            return False, "HF_HUB_OFFLINE is set: hosted inference is off"
        where = self.base_url or "the Hugging Face router (hf-inference provider)"
        if self.base_url is None and not self.resolved_token():
            return False, "no Hugging Face token: set HF_TOKEN or hf_token"
        return True, f"hosted inference via {where}"

    def client(self, model_id: str) -> tuple[Any, str]:
        """An ``InferenceClient`` and the ``model`` argument for calls: the model URL on a custom base URL, else the
        model id on the hf-inference provider."""
        from huggingface_hub import InferenceClient

        token = self.resolved_token()
        if self.base_url:
            url = f"{self.base_url}/models/{model_id}"
            return InferenceClient(model=url, token=token, timeout=self.timeout), url
        return InferenceClient(provider="hf-inference", token=token, timeout=self.timeout), model_id

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        if card.source in ("embedded", "llm") or card.path:
            return False, "not a hosted hub model"
        if card.task not in hosted():
            return False, f"hf-inference has no {card.task} call here"
        ok, reason = self.status()
        if not ok:
            return False, reason
        now = time.monotonic()
        with self._lock:
            probed = {m: t for m, t in self._probed.get(card.task, {}).items() if now - t < self.status_ttl}
            if card.id not in probed and len(probed) >= MAX_PROBES_PER_TASK:
                return False, f"not probed: the {MAX_PROBES_PER_TASK} most liked {card.task} models were checked"
            probed.setdefault(card.id, now)
            self._probed[card.task] = probed
        return self.available(card.id)

    def available(self, model_id: str) -> tuple[bool, str]:
        """Whether the service deploys ``model_id`` (cached for ``status_ttl`` seconds)."""
        now = time.monotonic()
        with self._lock:
            hit = self._status.get(model_id)
            if hit and now - hit[0] < self.status_ttl:
                return hit[1], hit[2]
            if now < self._down_until:
                return False, "hosted inference unreachable a moment ago"
        try:
            ok, reason = self._probe(model_id)
        except Exception as exc:  # noqa: BLE001 - a failed probe means "not available now", with the cause
            err = map_error(exc, "hf-inference status")
            with self._lock:
                if isinstance(err, ModelServerUnreachable | RemoteTimeout):
                    self._down_until = time.monotonic() + _DOWN_S
            return False, err.message
        with self._lock:
            self._status[model_id] = (time.monotonic(), ok, reason)
        return ok, reason

    def _probe(self, model_id: str) -> tuple[bool, str]:
        if self.base_url:
            import httpx

            token = self.resolved_token()
            headers = {"authorization": f"Bearer {token}"} if token else {}
            r = httpx.get(f"{self.base_url}/status/{model_id}", headers=headers, timeout=min(self.timeout, 10.0))
            if r.status_code == 404:
                return True, f"served by {self.base_url} (no status endpoint; assumed deployed)"
            if r.status_code != 200:
                raise error_for_status(r.status_code, f"{self.base_url} status of {model_id}", r.text)
            body = r.json()
            if body.get("loaded") or body.get("state") in ("Loadable", "Loaded"):
                return True, f"deployed on {self.base_url}"
            return False, f"not deployed on {self.base_url} ({body.get('state', 'not loaded')})"
        from huggingface_hub import HfApi

        info = HfApi(token=self.resolved_token()).model_info(model_id, expand=["inference"], timeout=10.0)
        state = getattr(info, "inference", None)
        if state == "warm":
            return True, "deployed on hf-inference (warm)"
        return False, f"not deployed on hf-inference ({state or 'no inference state'})"

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        return HFInferenceExpert(self, card)
