"""The ``http`` backend: experts hosted on model servers (``hugginggpt models-server`` on a GPU box, or a JARVIS
``models_server.py``), configured as ``model_servers: [{url, shared_dir?, timeout?}]``.

Which models a server hosts: ``GET /models`` on ours, else JARVIS's ``GET /status/<id>`` → ``{"loaded": true}``,
cached for a while. Media go to our servers as ``data:`` URIs; a JARVIS server reads paths, so give it a
``shared_dir`` both machines see (inputs are copied there). A server that goes away mid-run makes its task fail with
``ModelServerUnreachable``; the rest of the plan carries on.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ..catalog.cards import ModelCard
from ..errors import ExpertError, ExpertInputError
from ..experts.base import Expert, ExpertOutput, ExpertResult
from ..experts.hub.errors import ModelServerUnreachable, RemoteError, RemoteTimeout, error_for_status
from ..experts.hub.wire import LOSSLESS_HEADER, MEDIA_KEYS, data_uri, decode_result
from ..observability.tracing import inject_context
from ..payloads import Answers, Boxes, Entities, Labels, scored

log = logging.getLogger(__name__)

_TTL = 60.0  # seconds a server's model list / status answer is trusted
_MEDIA = {"image", "audio", "video"}


class ModelServer:
    """One server: its URL, what it hosts (cached), and the request/response plumbing."""

    def __init__(self, url: str, *, shared_dir: Path | None = None, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.shared_dir = Path(shared_dir).expanduser() if shared_dir else None
        self.timeout = timeout
        self._listing: tuple[float, dict[str, str] | None] | None = None
        self._status: dict[str, tuple[float, bool]] = {}
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _get(self, path: str, timeout: float = 5.0) -> Any:
        import httpx

        return httpx.get(f"{self.url}{path}", timeout=timeout)

    def running(self) -> tuple[bool, str]:
        import httpx

        try:
            r = self._get("/running", 3.0)
            return (r.status_code == 200 and bool(r.json().get("running"))), f"{self.url} running"
        except (httpx.HTTPError, ValueError) as exc:
            return False, f"{self.url} unreachable ({type(exc).__name__})"

    def listing(self) -> dict[str, str] | None:
        """``{model_id: task}`` from ``GET /models`` (our servers), or None for servers without it (JARVIS)."""
        import httpx

        now = time.monotonic()
        if self._listing and now - self._listing[0] < _TTL:
            return self._listing[1]
        if now < self._down_until:
            return {}
        try:
            r = self._get("/models")
            found = {m["id"]: m.get("task", "") for m in r.json()} if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.info("model server %s unreachable: %s", self.url, exc)
            self._down_until = now + _TTL / 2
            return {}
        self._listing = (now, found)
        return found

    def hosts(self, card: ModelCard) -> bool:
        listing = self.listing()
        if listing is not None:
            return card.id in listing and listing[card.id] in ("", card.task)
        with self._lock:
            hit = self._status.get(card.id)
        if hit and time.monotonic() - hit[0] < _TTL:
            return hit[1]
        import httpx

        try:
            r = self._get(f"/status/{card.id}")
            ok = r.status_code == 200 and bool(r.json().get("loaded"))
        except (httpx.HTTPError, ValueError):
            ok = False
        with self._lock:
            self._status[card.id] = (time.monotonic(), ok)
        return ok

    def forget(self) -> None:
        """Drop cached answers (after a failure, so the next selection asks again)."""
        self._listing = None
        self._status.clear()

    # ----- inference ------------------------------------------------------------------------------------------------
    def payload(self, inputs: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for slot, value in inputs.items():
            if isinstance(value, Path) and slot in _MEDIA:
                body[MEDIA_KEYS[slot]] = self._media_ref(value)
            elif value is not None:
                body[slot] = str(value)
        return body

    def _media_ref(self, path: Path) -> str:
        if self.shared_dir is None:
            return data_uri(path)
        target = self.shared_dir / "inputs" / f"{uuid.uuid4().hex[:12]}{path.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return str(target)

    def infer(self, model_id: str, task: str, inputs: dict[str, Any]) -> ExpertResult:
        import httpx

        what = f"model server {self.url} ({model_id})"
        try:
            # traceparent: the server's span joins this run's trace (nothing is added while tracing is off)
            r = httpx.post(f"{self.url}/models/{model_id}", json=self.payload(inputs),
                           headers=inject_context({LOSSLESS_HEADER: "1"}), timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise RemoteTimeout(f"{what} did not answer within {self.timeout:.0f}s.",
                                hint="Raise model_servers[].timeout or check the server's load.") from exc
        except httpx.TransportError as exc:  # refused, reset, or the server died mid-request
            self.forget()
            self._down_until = time.monotonic() + _TTL / 2
            raise ModelServerUnreachable(f"{what} cannot be reached: {type(exc).__name__}: {exc}.",
                                         hint="Start the server again (hugginggpt models-server) or remove it "
                                              "from model_servers.") from exc
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise self._error(r.status_code, body, what)
        if isinstance(body, dict) and "outputs" in body:
            return decode_result(body)
        return self._from_jarvis(task, body, what)

    def _error(self, status: int, body: Any, what: str) -> ExpertError:
        err = body.get("error") if isinstance(body, dict) else None
        message = (err.get("message") if isinstance(err, dict) else str(err or "")) or f"HTTP {status}"
        code = err.get("code", "") if isinstance(err, dict) else ""
        hint = err.get("hint") if isinstance(err, dict) else None
        if status == 400 or code == "expert_input_error":
            return ExpertInputError(f"{what}: {message}", hint=hint)
        if status in (200, 500):  # JARVIS answers 200 {"error": ...} when the model itself failed
            return RemoteError(f"{what} failed: {message}", hint=hint)
        return error_for_status(status, what, message)

    def _from_jarvis(self, task: str, body: Any, what: str) -> ExpertResult:
        """JARVIS's per-task response shapes → an ExpertResult (media paths fetched from the server or shared dir)."""
        if isinstance(body, list):
            rows = body
            if rows and "answer" in rows[0]:
                return ExpertResult.of(Answers(tuple(rows)))
            if rows and "box" in rows[0]:
                return ExpertResult.of(Boxes.of(rows))
            if rows and "entity_group" in rows[0]:
                return ExpertResult.of(Entities.of(rows))
            if not rows:
                return ExpertResult.of_text(scored("none", 0), label="none", scores=rows)
            return ExpertResult.of(Labels.of(rows))
        if not isinstance(body, dict):
            raise RemoteError(f"{what} answered something that is not a result: {str(body)[:200]}")
        outputs: list[ExpertOutput] = []
        path = body.get("path")
        if path:
            kind: Any = next((k for k, d in (("image", "/images/"), ("audio", "/audios/"), ("video", "/videos/"))
                              if d in str(path)), "image")
            outputs.append(ExpertOutput(kind, data=self._fetch(str(path), what), ext=Path(str(path)).suffix))
        text = body.get("generated text") or body.get("text") or body.get("answer")
        if text:
            outputs.append(ExpertOutput("text", text=str(text)))
        if not outputs:
            raise RemoteError(f"{what} answered without a usable result: {str(body)[:200]}")
        return ExpertResult(outputs, {k: v for k, v in body.items() if k not in ("path",)})

    def _fetch(self, path: str, what: str) -> bytes:
        import httpx

        if self.shared_dir is not None:
            local = self.shared_dir / path.split("public/", 1)[-1].lstrip("/")
            if local.is_file():
                return local.read_bytes()
        try:
            r = httpx.get(f"{self.url}{path if path.startswith('/') else '/' + path}", timeout=30.0)
        except httpx.HTTPError as exc:
            raise ModelServerUnreachable(f"{what}: cannot fetch {path}: {exc}.") from exc
        if r.status_code != 200:
            raise RemoteError(f"{what}: the result file {path} is not served (HTTP {r.status_code}).",
                              hint="For a JARVIS server set model_servers[].shared_dir to its public/ directory.")
        return r.content


class RemoteExpert(Expert):
    """A model on a server: ``run`` is one POST. Nothing loads locally."""

    backend = "http"

    def __init__(self, server: ModelServer, card: ModelCard) -> None:
        super().__init__()
        self.server = server
        self.model_id = card.id
        self.task = card.task
        self._loaded = True

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        result = self.server.infer(self.model_id, self.task, inputs)
        result.data.setdefault("backend", "http")
        result.data.setdefault("server", self.server.url)
        return result


class HTTPBackend:
    """Experts on the configured model servers, first server that hosts a model wins."""

    name = "http"

    def __init__(self, servers: list[ModelServer]) -> None:
        self.servers = servers

    @classmethod
    def from_config(cls, config: Any) -> HTTPBackend:
        servers = []
        for s in getattr(config, "model_servers", None) or []:
            s = s if isinstance(s, dict) else s.model_dump()
            servers.append(ModelServer(s["url"], shared_dir=s.get("shared_dir"), timeout=s.get("timeout", 300.0)))
        return cls(servers)

    def cards(self) -> list[ModelCard]:
        """Cards for what the servers host (from ``GET /models``), so models that only a server has (e.g. a
        fine-tuned local directory on the GPU box) can be selected too. Callers skip ids they already know."""
        out: dict[str, ModelCard] = {}
        for server in self.servers:
            for mid, task in (server.listing() or {}).items():
                if task and mid not in out:
                    out[mid] = ModelCard(id=mid, task=task, source="user", tags=["model-server"],
                                         description=f"hosted on {server.url}", path=None)
        return list(out.values())

    def status(self) -> tuple[bool, str]:
        if not self.servers:
            return False, "no model_servers configured"
        states = [s.running() for s in self.servers]
        up = [reason for ok, reason in states if ok]
        return bool(up), "; ".join(reason for _, reason in states)

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        if card.source == "llm":
            return False, "served by the controller LLM"
        for server in self.servers:
            if server.hosts(card):
                return True, f"hosted on {server.url}"
        return False, "not hosted on any configured model server" if self.servers else "no model_servers configured"

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        server = next((s for s in self.servers if s.hosts(card)), None)
        if server is None:
            raise ModelServerUnreachable(f"No configured model server hosts {card.id} any more.",
                                         hint="Check the servers (hugginggpt doctor).")
        return RemoteExpert(server, card)
