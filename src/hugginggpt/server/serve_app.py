"""``hugginggpt models-server --ray-serve``: the models server as a Ray Serve application (docs/scaling.md).

Two deployments:

* ``ingress`` (FastAPI): the same JARVIS-style API as the plain models server, built by
  :func:`models_server.create_app` (``/running``, ``/models``, ``/status/{id}``, ``POST /models/{id}``, media files);
  only the inference step differs: the decoded inputs go, as bytes, to
* ``experts``: replicas that each hold up to ``max_models_per_replica`` loaded models (``serve.multiplexed``, keyed by
  the model id of the request; Serve routes a request to a replica that already has its model when it can, and a
  replica over the limit unloads its least recently used model). Replicas are fixed or autoscaled (``ray_serve:`` in
  a YAML file given with ``--serve-config``).

The ``http`` backend of a controller on another machine uses it unchanged through ``model_servers: [{url: ...}]``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .. import errors
from ..errors import ConfigError, ExpertUnavailable, HuggingGPTError, InternalError
from ..execution.calls import MediaInput
from ..experts.base import ExpertResult
from ..experts.hub import errors as hub_errors
from ..experts.hub.wire import decode_result, encode_result
from ..results import ErrorInfo
from .models_server import HostedModels, build_hosted, create_app

log = logging.getLogger(__name__)


class AutoscalingSettings(BaseModel):
    """Serve's autoscaling of a deployment: replicas follow the requests in flight per replica."""

    model_config = ConfigDict(extra="forbid")

    min_replicas: int = Field(1, ge=0, description="Replicas kept when idle (0: scale to zero).")
    max_replicas: int = Field(4, ge=1, description="Replicas at most.")
    target_ongoing_requests: float = Field(2.0, gt=0, description="Requests in flight per replica to aim at.")
    upscale_delay_s: float = Field(5.0, ge=0, description="Seconds of sustained load before adding replicas.")
    downscale_delay_s: float = Field(60.0, ge=0, description="Seconds of low load before removing replicas.")


class DeploymentSettings(BaseModel):
    """Replicas and resources of one deployment."""

    model_config = ConfigDict(extra="forbid")

    num_replicas: int = Field(1, ge=1, description="Fixed replica count (ignored when autoscaling is set).")
    autoscaling: AutoscalingSettings | None = Field(None, description="Autoscale instead of a fixed count.")
    num_cpus: float = Field(1.0, ge=0, description="CPUs Ray reserves for each replica.")
    num_gpus: float = Field(0.0, ge=0, description="GPUs Ray reserves for each replica.")
    max_ongoing_requests: int = Field(4, ge=1, description="Requests one replica takes at once.")
    resources: dict[str, float] = Field(default_factory=dict, description="Custom Ray resources per replica.")

    def options(self) -> dict[str, Any]:
        """Keyword arguments of ``serve.deployment``."""
        actor: dict[str, Any] = {"num_cpus": self.num_cpus}
        if self.num_gpus:
            actor["num_gpus"] = self.num_gpus
        if self.resources:
            actor["resources"] = dict(self.resources)
        out: dict[str, Any] = {"ray_actor_options": actor, "max_ongoing_requests": self.max_ongoing_requests}
        if self.autoscaling is not None:
            out["autoscaling_config"] = self.autoscaling.model_dump()
        else:
            out["num_replicas"] = self.num_replicas
        return out


class RayServeSettings(BaseModel):
    """The ``ray_serve:`` section of the file given with ``models-server --ray-serve --serve-config FILE``."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(
        None, description="Ray cluster to deploy on (auto, or ray://host:10001). Empty: a local Ray instance.")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray instance (default: all).")
    app_name: str = Field("hugginggpt-models", description="Name of the Serve application.")
    max_models_per_replica: int = Field(
        3, ge=1, description="Models one experts replica holds loaded; past it the least recently used is unloaded.")
    experts: DeploymentSettings = Field(default_factory=DeploymentSettings, description="The model replicas.")
    ingress: DeploymentSettings = Field(
        default_factory=lambda: DeploymentSettings(num_cpus=0.1, max_ongoing_requests=64),
        description="The HTTP front (request decoding and answers; no models).")


def load_serve_settings(path: Path | None) -> RayServeSettings:
    """Settings from a YAML file: its ``ray_serve:`` section (so it can live in hugginggpt.yaml), or the whole file.
    No file given: the ``ray_serve:`` section of the configuration file (``HUGGINGGPT_CONFIG``, else
    ``hugginggpt.yaml``) when it has one, else the defaults."""
    if path is None:
        default = Path(os.environ.get("HUGGINGGPT_CONFIG", "hugginggpt.yaml"))
        try:
            data = yaml.safe_load(default.read_text(encoding="utf-8")) if default.is_file() else None
        except (OSError, yaml.YAMLError):
            data = None  # the main configuration reports its own file's problems
        if not (isinstance(data, dict) and data.get("ray_serve")):
            return RayServeSettings()
        path = default
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read the Ray Serve settings {path}: {exc}.") from exc
    if isinstance(data, dict) and "ray_serve" in data:
        data = data["ray_serve"] or {}
    try:
        return RayServeSettings.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"Invalid Ray Serve settings in {path}: {exc}") from exc


# ----- what crosses from the ingress to an experts replica: plain data --------------------------------------------
def _carried(inputs: dict[str, Any]) -> dict[str, Any]:
    """Media inputs (files the ingress wrote or owns) as :class:`MediaInput` with their bytes inside."""
    return {k: MediaInput(kind=k, path=v, data=v.read_bytes()) if isinstance(v, Path) else v
            for k, v in inputs.items()}


def _raise_error(err: dict[str, Any]) -> None:
    """Raise the replica's error again in the ingress, as its own class when it is a hugginggpt error."""
    cls = getattr(errors, err["type"], None) or getattr(hub_errors, err["type"], None)
    if isinstance(cls, type) and issubclass(cls, HuggingGPTError):
        try:
            raise cls(err["message"], hint=err.get("hint"))
        except TypeError:
            pass
    raise InternalError(f"{err['type']}: {err['message']}")


class LoadedModel:
    """One model held by an experts replica (the multiplexer's value): runs it leased; ``__del__`` is called by the
    multiplexer when it evicts the model, and unloads it unless a call is still using it."""

    def __init__(self, hosted: HostedModels, model_id: str) -> None:
        self.hosted = hosted
        self.model_id = model_id
        self.loaded_at = time.time()
        self.released = False

    def load(self) -> None:
        card, backend = self.hosted.entries[self.model_id]
        pool = self.hosted.pool
        if pool is None:
            backend.expert(card).load()
            return
        with pool.leasing():
            backend.expert(card)

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        return self.hosted.run(self.model_id, inputs)

    def __del__(self) -> None:
        # Once only: the multiplexer calls this on eviction, and the object's finalizer would call it again later,
        # when the same model may have been loaded anew for another holder.
        if getattr(self, "released", True):
            return
        self.released = True
        pool = self.hosted.pool
        if pool is not None:
            pool._unload_idle(self.model_id)  # no-op while leased by a call in flight


class ExpertsReplica:
    """Body of the ``experts`` deployment (made a Serve deployment by :func:`_experts_deployment`)."""

    def __init__(self, config: Any, model_ids: list[str]) -> None:
        self.hosted = build_hosted(config, model_ids, public_dir=Path(tempfile.mkdtemp(prefix="hugginggpt-serve-")))
        self.replica = uuid.uuid4().hex[:8]

    async def _load(self, model_id: str) -> LoadedModel:
        if model_id not in self.hosted.entries:
            raise ExpertUnavailable(f"{model_id} is not hosted on this server.")
        model = LoadedModel(self.hosted, model_id)
        await asyncio.to_thread(model.load)
        return model

    def _local(self, inputs: dict[str, Any]) -> tuple[dict[str, Any], list[Path]]:
        local: dict[str, Any] = {}
        written: list[Path] = []
        for key, value in inputs.items():
            if isinstance(value, MediaInput):
                path = self.hosted.public_dir / "inputs" / f"{uuid.uuid4().hex}{value.path.suffix}"
                path.write_bytes(value.read())
                written.append(path)
                local[key] = path
            else:
                local[key] = value
        return local, written

    async def infer(self, model: Callable[[str], Awaitable[LoadedModel]], inputs: dict[str, Any]) -> dict[str, Any]:
        """Run the request's model (``serve.get_multiplexed_model_id``) on the inputs: the result in the lossless
        wire shape, or ``{"error": {...}}``."""
        from ray import serve

        model_id = serve.get_multiplexed_model_id()
        written: list[Path] = []
        try:
            loaded = await model(model_id)
            local, written = self._local(inputs)
            result = await asyncio.to_thread(loaded.run, local)
            return {"result": encode_result(result), "replica": self.replica}
        except Exception as exc:  # named for the ingress, which answers with the right status
            if not isinstance(exc, HuggingGPTError):
                log.exception("inference of %s failed", model_id)
            return {"error": ErrorInfo.from_exc(exc).model_dump()}
        finally:
            for path in written:
                path.unlink(missing_ok=True)


def _experts_deployment(settings: RayServeSettings) -> Any:
    """The ``experts`` deployment class, with the multiplexer's per-replica limit from the settings."""
    from ray import serve

    class Experts(ExpertsReplica):
        @serve.multiplexed(max_num_models_per_replica=settings.max_models_per_replica)
        async def model(self, model_id: str) -> LoadedModel:
            return await self._load(model_id)

        async def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
            return await self.infer(self.model, inputs)

        def loaded(self) -> list[str]:
            """The ids this replica holds in its pool (for tests and operators)."""
            pool = self.hosted.pool
            return pool.loaded_ids() if pool is not None else []

    return serve.deployment(Experts, name="experts", **settings.experts.options())


_APPS: list[Any] = []  # the ingress replica's app, made in its __init__ and taken by the ASGI builder below


def _asgi_app() -> Any:
    return _APPS.pop()


class IngressReplica:
    """Body of the ``ingress`` deployment: :func:`models_server.create_app` whose inference step calls the experts
    deployment with the request's model id."""

    def __init__(self, experts: Any, config: Any, model_ids: list[str], public_dir: str | None) -> None:
        from ..observability.tracing import setup_tracing

        setup_tracing(getattr(config, "tracing", None))  # the server span joins the caller's trace, as in `serve`
        root = Path(public_dir) if public_dir else Path(tempfile.mkdtemp(prefix="hugginggpt-serve-ingress-"))
        hosted = build_hosted(config, model_ids, public_dir=root)

        async def run(model_id: str, inputs: dict[str, Any]) -> ExpertResult:
            carried = _carried(inputs)
            for value in inputs.values():  # the ingress's copy of an upload is not needed once read
                if isinstance(value, Path) and value.parent == root / "inputs":
                    value.unlink(missing_ok=True)
            reply = await experts.options(multiplexed_model_id=model_id).run.remote(carried)
            if "error" in reply:
                _raise_error(reply["error"])
            return decode_result(reply["result"])

        _APPS.append(create_app(hosted, run=run))


def build_app(config: Any, settings: RayServeSettings, *, model_ids: list[str] | None = None,
              tasks: list[str] | None = None, public_dir: Path | None = None) -> Any:
    """The Serve application (not yet running): what to host is chosen here, as the plain server does."""
    from ray import serve

    hosted = build_hosted(config, model_ids, tasks, public_dir)
    if not hosted.entries:
        raise ConfigError("Nothing to host: no available model matched.",
                          hint="Check `hugginggpt doctor`, or name models with --model.")
    ids = list(model_ids) if model_ids else list(hosted.entries)  # each replica builds the same hosted set
    experts = _experts_deployment(settings).bind(config, ids)
    ingress = serve.deployment(serve.ingress(_asgi_app)(IngressReplica), name="ingress",
                               **settings.ingress.options())
    return ingress.bind(experts, config, ids, str(public_dir) if public_dir else None)


def start(config: Any, settings: RayServeSettings, *, host: str = "127.0.0.1", port: int = 8005,
          model_ids: list[str] | None = None, tasks: list[str] | None = None,
          public_dir: Path | None = None) -> None:
    """Join or start Ray, start Serve's HTTP proxy on host:port and deploy the application (returns once it runs)."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        ray.init(address=settings.address, num_cpus=settings.num_cpus if settings.address is None else None,
                 include_dashboard=False, namespace="hugginggpt-serve")
    serve.start(http_options={"host": host, "port": port})
    app = build_app(config, settings, model_ids=model_ids, tasks=tasks, public_dir=public_dir)
    serve.run(app, name=settings.app_name, route_prefix="/")


class _StopSignal:
    """Ctrl-C / SIGTERM as a flag: the first asks for a clean shutdown, whatever the main thread is doing (a signal
    that arrives while Ray code runs is not lost as a KeyboardInterrupt inside it); a second one interrupts."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def _handle(self, signum: int, frame: object) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()

    def install(self) -> dict[int, Any]:
        return {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def wait(self) -> None:
        while not self._event.wait(timeout=1.0):  # a timeout keeps the main thread where signals are handled
            pass


def serve_forever(config: Any, settings: RayServeSettings, *, host: str = "127.0.0.1", port: int = 8005,
                  model_ids: list[str] | None = None, tasks: list[str] | None = None) -> None:
    """``hugginggpt models-server --ray-serve``: deploy, then wait until interrupted; shut Serve (and a local Ray)
    down on the way out."""
    import ray
    from ray import serve

    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("models-server listens on %s: anyone who can reach it can run the hosted models", host)
    stop = _StopSignal()
    previous = stop.install()
    try:
        start(config, settings, host=host, port=port, model_ids=model_ids, tasks=tasks)
        stop.install()  # again: starting Ray may have put its own handlers in place
        log.warning("Ray Serve application %r on http://%s:%d", settings.app_name, host, port)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if ray.is_initialized():
            if settings.address:  # a shared cluster: remove only this application
                serve.delete(settings.app_name)
            else:
                serve.shutdown()
            ray.shutdown()
