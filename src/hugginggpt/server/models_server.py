"""``hugginggpt models-server``: host local experts (embedded, or hub models on this machine's transformers backend)
behind JARVIS's model-server API, so a GPU box can serve models to a CPU controller (the ``http`` backend).

Endpoints (as JARVIS ``models_server.py``): ``GET /running``, ``GET /status/{model_id}`` → ``{"loaded": bool}``,
``POST /models/{model_id}`` (request/response shapes in ``hub/wire.py``); plus ``GET /models`` (the hosted ids and
tasks, so clients need not probe one by one) and ``GET /images|audios|videos/{name}`` for files results refer to.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..backends.embedded import EmbeddedBackend
from ..backends.transformers import TransformersBackend
from ..catalog.cards import ModelCard
from ..catalog.sync import build_catalog
from ..errors import ConfigError, ExpertInputError, ExpertUnavailable, HuggingGPTError
from ..experts.hub.render import b64decode
from ..experts.hub.wire import LOSSLESS_HEADER, MEDIA_DIRS, SLOT_OF_KEY, encode_result, jarvis_shape
from ..experts.pool import ExpertPool
from ..observability.tracing import extract_context, get_tracer, setup_tracing
from ..results import ErrorInfo

log = logging.getLogger(__name__)

MAX_INPUT_MB = 100


class HostedModels:
    """The models a server hosts: card + backend each; experts load on first request (or at start with preload)."""

    def __init__(self, entries: dict[str, tuple[ModelCard, Any]], public_dir: Path,
                 pool: ExpertPool | None = None) -> None:
        self.entries = entries
        self.pool = pool
        self.public_dir = public_dir
        self._locks = {mid: threading.Lock() for mid in entries}
        for sub in (*MEDIA_DIRS.values(), "inputs"):
            (public_dir / sub).mkdir(parents=True, exist_ok=True)

    def run(self, model_id: str, inputs: dict[str, Any]) -> Any:
        card, backend = self.entries[model_id]
        with self._locks[model_id]:  # one request per model at a time, as JARVIS (models are not thread safe)
            if self.pool is None:
                return backend.expert(card).run(inputs)
            with self.pool.leasing():  # leased: the memory budget never unloads a model in the middle of a call
                return backend.expert(card).run(inputs)

    def preload(self) -> None:
        for card, backend in self.entries.values():
            backend.expert(card).load()


def build_hosted(config: Any, model_ids: list[str] | None = None, tasks: list[str] | None = None,
                 public_dir: Path | None = None) -> HostedModels:
    """Pick what to host: the given ids (catalog ids or ``task=directory`` for a local model), else every embedded
    expert and local hub model available here (optionally only for ``tasks``)."""
    pool = ExpertPool(getattr(config, "memory_budget_mb", 6144))
    backends: list[Any] = [EmbeddedBackend(pool), TransformersBackend.from_config(pool, config)]
    catalog = build_catalog(config)
    cards: list[ModelCard] = []
    if model_ids:
        for mid in model_ids:
            if "=" in mid:  # task=/path/to/model: a local directory not in the catalog
                task, path = mid.split("=", 1)
                cards.append(ModelCard(id=Path(path).name, task=task, path=path, source="user"))
            elif (card := catalog.get(mid)) is not None:
                cards.append(card)
            else:
                raise ConfigError(f"{mid!r} is not in the catalog.",
                                  hint="Give a catalog id (hugginggpt models), or task=/path/to/model_dir.")
    else:
        cards = [c for c in catalog.cards if c.source in ("embedded", "hub", "user") and (not tasks or c.task in tasks)]
    entries: dict[str, tuple[ModelCard, Any]] = {}
    for card in cards:
        why = []
        for backend in backends:
            ok, reason = backend.can_serve(card)
            if ok:
                entries[card.id] = (card, backend)
                break
            why.append(f"{backend.name}: {reason}")
        else:
            if model_ids:
                raise ConfigError(f"Cannot host {card.id}: {'; '.join(why)}.")
    root = public_dir or Path(tempfile.mkdtemp(prefix="hugginggpt-models-server-"))
    return HostedModels(entries, root, pool)


def _inputs(body: dict[str, Any], hosted: HostedModels) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for key, value in body.items():
        slot = SLOT_OF_KEY.get(key, key if key in ("image", "audio", "video") else None)
        if slot is None:
            if value is not None:
                inputs[key] = str(value)
            continue
        inputs[slot] = _media_file(str(value), slot, hosted)
    return inputs


def _media_file(value: str, slot: str, hosted: HostedModels) -> Path:
    if value.startswith("data:"):
        import mimetypes

        mime = value[5:].split(";", 1)[0]
        data = b64decode(value)
        if len(data) > MAX_INPUT_MB * 1024 * 1024:
            raise ExpertInputError(f"The {slot} input is larger than {MAX_INPUT_MB} MB.")
        path = hosted.public_dir / "inputs" / f"{uuid.uuid4().hex}{mimetypes.guess_extension(mime) or ''}"
        path.write_bytes(data)
        return path
    # A path this server gave out earlier ("/images/x.png", JARVIS's "public//images/x.png"): only inside public_dir.
    rel = value.split("public/", 1)[-1].lstrip("/")
    path = (hosted.public_dir / rel).resolve()
    if hosted.public_dir.resolve() in path.parents and path.is_file():
        return path
    raise ExpertInputError(f"{slot} input {value[:80]!r} is neither a data: URI nor a file this server produced.",
                           hint="Send media as data: URIs (the http backend does), or share a directory.")


def create_app(hosted: HostedModels, run: Callable[[str, dict[str, Any]], Awaitable[Any]] | None = None) -> Any:
    """The FastAPI app. Endpoints are sync functions, so FastAPI runs inference in its thread pool.

    ``run(model_id, inputs)`` replaces the inference step (``hosted.run`` in a worker thread): the Ray Serve
    application (serve_app.py) sends it to its experts deployment; everything else of the protocol is shared.
    """
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import FileResponse, JSONResponse

    app = FastAPI(title="hugginggpt models-server", description="JARVIS-compatible model server")

    def error(status: int, exc: BaseException) -> JSONResponse:
        return JSONResponse({"error": ErrorInfo.from_exc(exc).model_dump()}, status_code=status)

    @app.get("/running")
    def running() -> dict[str, Any]:
        return {"running": True, "models": len(hosted.entries)}

    @app.get("/models")
    def models() -> list[dict[str, Any]]:
        return [{"id": mid, "task": card.task, "backend": backend.name}
                for mid, (card, backend) in hosted.entries.items()]

    @app.get("/status/{model_id:path}")
    def status(model_id: str) -> dict[str, Any]:
        entry = hosted.entries.get(model_id)
        return {"loaded": entry is not None, **({"task": entry[0].task} if entry else {})}

    async def infer(model_id: str, request: Request) -> Any:
        # The caller's traceparent header (the http backend sends it) makes this span part of the run's trace.
        from opentelemetry.trace import SpanKind, Status, StatusCode

        with get_tracer().start_as_current_span("hugginggpt.models_server.infer", kind=SpanKind.SERVER,
                                                context=extract_context(request.headers)) as span:
            response = await _infer(model_id, request)
            if span.is_recording():
                code = response.status_code if isinstance(response, JSONResponse) else 200
                span.set_attributes({"hugginggpt.model.id": model_id, "http.response.status_code": code})
                if code >= 400:
                    span.set_status(Status(StatusCode.ERROR, f"HTTP {code}"))
            return response

    async def _infer(model_id: str, request: Request) -> Any:
        from starlette.concurrency import run_in_threadpool

        if model_id not in hosted.entries:
            return error(404, ExpertUnavailable(f"{model_id} is not hosted on this server."))
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            return error(400, ExpertInputError(f"Bad request body: {exc}."))
        try:
            inputs = _inputs(body, hosted)
            result = await (run(model_id, inputs) if run else run_in_threadpool(hosted.run, model_id, inputs))
        except ExpertInputError as exc:
            return error(400, exc)
        except ExpertUnavailable as exc:
            return error(503, exc)
        except HuggingGPTError as exc:
            return error(500, exc)
        except Exception as exc:
            log.exception("inference of %s failed", model_id)
            return error(500, exc)
        if request.headers.get(LOSSLESS_HEADER) == "1":
            return encode_result(result)
        paths = {}
        for out in result.outputs:
            if out.kind != "text" and out.data is not None and out.kind not in paths:
                name = f"{uuid.uuid4().hex[:8]}{out.ext or ''}"
                (hosted.public_dir / MEDIA_DIRS.get(out.kind, "images") / name).write_bytes(out.data)
                paths[out.kind] = f"/{MEDIA_DIRS.get(out.kind, 'images')}/{name}"
        return jarvis_shape(hosted.entries[model_id][0].task, result, paths)

    # This module uses postponed annotations and imports FastAPI lazily: give FastAPI the real Request class.
    infer.__annotations__["request"] = Request
    app.post("/models/{model_id:path}")(infer)

    def _serve_file(kind: str, name: str) -> FileResponse:
        path = (hosted.public_dir / kind / name).resolve()
        if path.parent != (hosted.public_dir / kind).resolve() or not path.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(path)

    def file_route(kind: str) -> Any:
        def get_file(name: str) -> FileResponse:
            return _serve_file(kind, name)

        return get_file

    for kind in MEDIA_DIRS.values():
        app.add_api_route(f"/{kind}/{{name}}", file_route(kind), methods=["GET"])
    return app


def serve(config: Any, *, host: str = "127.0.0.1", port: int = 8005, model_ids: list[str] | None = None,
          tasks: list[str] | None = None, preload: bool = False, public_dir: Path | None = None) -> None:
    """Build the hosted set and serve it with uvicorn until interrupted."""
    import uvicorn

    setup_tracing(getattr(config, "tracing", None))  # the tracing section or OTEL_* variables, as `serve`
    hosted = build_hosted(config, model_ids, tasks, public_dir)
    if not hosted.entries:
        raise ConfigError("Nothing to host: no available model matched.",
                          hint="Check `hugginggpt doctor`, or name models with --model.")
    if preload:
        hosted.preload()
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("models-server listens on %s: anyone who can reach it can run the hosted models", host)
    log.info("hosting %d models on http://%s:%d", len(hosted.entries), host, port)
    uvicorn.run(create_app(hosted), host=host, port=port, log_level="warning")
