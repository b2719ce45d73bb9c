"""Settings: defaults -> ``hugginggpt.yaml`` -> environment ``HUGGINGGPT_*`` -> explicit arguments/CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

# When a capable LLM chooses a task's model (``catalog.selector.Selector``'s ``choice``).
ModelChoiceMode = Literal["local_first", "llm"]


class ServerSettings(BaseModel):
    """How ``hugginggpt serve`` listens, who may call it and what it may read."""

    host: str = Field("127.0.0.1", description="Interface to listen on. Loopback by default; 0.0.0.0 exposes it.")
    port: int = Field(8004, description="TCP port (JARVIS's server mode uses 8004).")
    api_key: str | None = Field(
        None, description="When set, every route needs `Authorization: Bearer <key>` (the web UI asks for it once "
                          "and keeps a session cookie). Prefer the env var HUGGINGGPT_SERVER__API_KEY.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser (CORS). Empty: closed.")
    max_upload_mb: float = Field(25.0, description="Size cap of one uploaded file (POST /v1/files, UI uploads).")
    max_body_mb: float = Field(
        40.0, gt=0, description="Size cap of any other request body (JSON, the UI's own requests), counted as "
                                "it arrives and refused with 413 before parsing. Keep it above max_upload_mb: "
                                "inline (base64) files and UI uploads come through it.")
    login_max_failures: int = Field(
        10, ge=1, description="Wrong keys one client address may send to /login per minute; more get 429.")
    database: Path | None = Field(None, description="SQLite file for runs, events and conversations; default "
                                                    "<workspace>/server.sqlite3.")
    max_concurrent_runs: int = Field(4, description="Runs executing at once; later ones wait as `queued`.")
    ui: bool = Field(True, description="Mount the web UI (Gradio) at /ui.")
    ui_llm_settings: bool = Field(
        False, description="Let web-UI users point their session at another OpenAI-compatible LLM endpoint (the "
                           "server then calls it). Takes effect only when `api_key` is set, and only for the "
                           "endpoints listed in `ui_llm_allowlist`.")
    ui_llm_allowlist: list[str] = Field(
        default_factory=list, description="Base URLs (e.g. `http://127.0.0.1:11434/v1`) a UI session may choose "
                                          "when `ui_llm_settings` is on; any other URL is refused.")


class ExecutionSettings(BaseModel):
    """Where expert calls run (docs/scaling.md): threads of this process, or Ray workers (local or a cluster)."""

    engine: Literal["threads", "ray"] = Field(
        "threads", description="threads: worker threads of this process (fast start). ray: each model in its own "
                               "Ray actor process (crash and hang isolation, several machines).")
    ray_address: str | None = Field(
        None, description="Ray cluster to join: auto (a running `ray start` cluster) or ray://host:10001. "
                          "Empty: start a local Ray instance in this process.")
    ray_namespace: str = Field("hugginggpt", description="Ray namespace of the named expert actors.")
    ray_num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray instance (default: all).")
    ray_max_restarts: int = Field(3, ge=0, description="Restarts of an expert actor after a crash.")
    ray_actor_cpus: float = Field(1.0, gt=0, description="CPUs each expert actor reserves (Ray places by them).")
    ray_media_resources: dict[str, str] = Field(
        default_factory=lambda: {"image": "vision", "video": "vision", "audio": "audio"},
        description="Custom Ray resource an expert actor asks for, by the media it reads; asked for only when the "
                    "cluster declares that resource (e.g. `ray start --resources '{\"vision\": 1}'`).")
    ray_memory_budget_mb: int | None = Field(
        None, ge=1, description="Memory all expert actors may hold together; past it the least recently used are "
                                "killed. Default: memory_budget_mb.")


class TracingSettings(BaseModel):
    """OpenTelemetry tracing (docs/observability.md). The standard OTEL_* variables also apply."""

    exporter: Literal["none", "console", "otlp-http", "otlp-grpc"] = Field(
        "none", description="none: no spans are recorded (unless OTEL_TRACES_EXPORTER names one).")
    endpoint: str | None = Field(None, description="OTLP endpoint (default: OTEL_EXPORTER_OTLP_ENDPOINT).")
    service_name: str = Field("hugginggpt", description="service.name of the spans.")
    include_content: bool = Field(
        False, description="Put prompts and LLM outputs on the LLM spans (they may hold user data).")


class CacheSettings(BaseModel):
    """The result cache and the plan cache in the workspace (docs/observability.md). ``cache: off`` turns both off."""

    enabled: bool = Field(True, description="Reuse results of deterministic experts for identical inputs.")
    plans: bool = Field(True, description="Reuse LLM plans for the same request, files, model and prompt version.")
    max_mb: float = Field(512.0, gt=0, description="Size cap of the cache; least recently used entries go first.")


class CostSettings(BaseModel):
    """Token prices for cost accounting (off while the table is empty)."""

    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="model name -> (price per 1M prompt tokens, per 1M completion tokens).")


class LLMSettings(BaseModel):
    """The controller LLM."""

    backend: Literal["embedded", "openai"] = Field(
        "embedded", description="`embedded`: llama.cpp over a GGUF in-process; `openai`: any OpenAI-compatible API.")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
    api_key: str | None = Field(None, description="API key for the endpoint (env HUGGINGGPT_LLM__API_KEY).")
    model: str | None = Field(None, description="Model name sent to the endpoint.")
    gguf_path: Path | None = Field(None, description="A GGUF for the embedded backend; default: packaged SmolLM2.")
    capable: bool | None = Field(
        None, description="Whether the LLM may plan and choose models. Default: true for `openai`, false for the "
                          "packaged SmolLM2 and for user GGUFs unless set.")
    n_ctx: int = Field(4096, description="Context length of the embedded model.")
    n_threads: int | None = Field(
        None, description="CPU threads of the embedded model (default: all cores but one, at most 8).")
    temperature: float = 0.0
    max_tokens: int = 512
    timeout: float = Field(120.0, description="Seconds per LLM call.")
    max_retries: int = Field(2, description="Retries on transient errors (timeouts, 429, 5xx).")


class ModelServerSettings(BaseModel):
    """A model server (``hugginggpt models-server`` or JARVIS's models_server.py) for the ``http`` backend."""

    url: str = Field(..., description="Base URL, e.g. http://gpu-box:8005.")
    shared_dir: Path | None = Field(
        None, description="A directory both machines see (JARVIS servers read inputs from paths; ours take data).")
    timeout: float = Field(300.0, description="Seconds per inference request.")


class HubSettings(BaseModel):
    """Hub model backends (docs/backends.md): local transformers/diffusers models and hosted inference. The fields may
    also be given at the top level (``device: cuda``, ``HUGGINGGPT_DEVICE``), as before this section existed."""

    device: str = Field("auto", description="Device of local hub models: auto | cpu | cuda | cuda:N | mps.")
    dtype: str = Field("auto", description="Torch dtype of local hub models: auto | float32 | float16 | bfloat16.")
    hf_cache_dir: Path | None = Field(None, description="HF cache to read local models from (default: HF_HUB_CACHE).")
    max_new_tokens: int = Field(128, description="Generation cap of local hub models (summaries, captions...).")
    controlnet_base: str = Field("runwayml/stable-diffusion-v1-5", description="Base model of ControlNet cards.")
    diffusion_steps: int | None = Field(
        None, ge=1, description="Denoising steps of local diffusion models (default: 25; 20 for ControlNet).")
    hf_token: str | None = Field(None, description="Hugging Face token for hf-inference (default: env HF_TOKEN).")
    hf_inference_url: str | None = Field(
        None, description="Base URL of the hosted inference API; models are posted to <url>/models/<id>.")
    hf_timeout: float = Field(60.0, description="Seconds per hf-inference request.")
    hf_status_ttl: float = Field(600.0, description="Seconds a hosted model's availability answer is cached.")


HUB_FIELDS = tuple(HubSettings.model_fields)
"""The hub settings also accepted at the top level (YAML keys, ``HUGGINGGPT_<FIELD>``, keyword arguments)."""


def nest_hub_fields(data: Any) -> Any:
    """``data`` with its top-level hub settings moved into its ``hub`` section (where one source gives both
    spellings of a setting, the top-level one wins)."""
    if not isinstance(data, dict) or not any(k in data for k in HUB_FIELDS):
        return data
    data = dict(data)
    hub = data.get("hub")
    hub = hub.model_dump() if isinstance(hub, HubSettings) else dict(hub) if isinstance(hub, dict) else {}
    for key in HUB_FIELDS:
        if key in data:
            hub[key] = data.pop(key)
    data["hub"] = hub
    return data


class _NestedHub(PydanticBaseSettingsSource):
    """A settings source whose top-level hub settings are moved into ``hub`` before the sources are merged, so
    that each spelling keeps its source's precedence."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, "", False

    def __call__(self) -> dict[str, Any]:
        return nest_hub_fields(self._inner())


class _TopLevelHubEnv(PydanticBaseSettingsSource):
    """``HUGGINGGPT_DEVICE``, ``HUGGINGGPT_HF_TOKEN``...: the hub settings' environment variables without ``HUB__``
    (below ``HUGGINGGPT_HUB__<FIELD>`` when both are set)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, "", False

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items() if k.upper().startswith("HUGGINGGPT_")}
        found = {f: env[f"HUGGINGGPT_{f.upper()}"] for f in HUB_FIELDS if f"HUGGINGGPT_{f.upper()}" in env}
        return {"hub": found} if found else {}


class HuggingGPTConfig(BaseSettings):
    """All settings. See docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="HUGGINGGPT_", env_nested_delimiter="__", extra="ignore")

    workspace: Path = Field(Path(".hugginggpt"), description="Where artifacts and run records are written.")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    planner: Literal["auto", "offline", "llm", "hybrid"] = Field(
        "auto", description="`auto`: the LLM planner when the LLM is capable, else the offline planner; `hybrid`: "
                            "the offline plan, reviewed by a capable LLM (keep/drop tasks, rewrite text only).")
    plan_shortlist: bool = Field(
        True, description="LLM planner: show only the tasks an offline ranking finds likely for the request (a "
                          "recall-first shortlist; about 40% fewer planning tokens), instead of every task.")
    inference_mode: Literal["local", "huggingface", "hybrid"] = Field(
        "local", description="Where experts run: local (embedded + local hub models), hosted, or both.")
    allowed_dirs: list[Path] = Field(
        default_factory=list, description="Directories the request may read files from (CLI default: the cwd).")
    allow_urls: bool = Field(False, description="Allow http(s) URLs as inputs (downloaded into the workspace).")
    allow_private_urls: bool = Field(False, description="Also allow URLs on loopback/private networks.")
    max_download_mb: float = Field(50.0, description="Size cap of a downloaded URL input.")
    download_deadline: float = Field(
        60.0, gt=0, description="Seconds a URL download may take in total (a slow drip is cut off at this point).")
    max_input_mb: float = Field(
        200.0, gt=0, description="Size cap of a local input file (attached, or read from an allowed directory).")
    max_image_pixels: int = Field(
        40_000_000, gt=0, description="Images declaring more pixels (width x height) are refused before decoding "
                                      "(decompression bombs): inputs, uploads and expert outputs.")
    max_image_side: int = Field(
        2048, ge=64, description="Longest side, in pixels, of the image the embedded experts work on: a larger input "
                                 "is downscaled once when decoded (its file is kept as it is), so memory per image "
                                 "is bounded by this, not by the input.")
    task_timeout: float = Field(300.0, description="Seconds before a task is abandoned with TaskTimeout.")
    run_timeout: float = Field(
        1800.0, gt=0, description="Seconds from the start of a run by which every task has ended (tasks still "
                                  "running then fail with TaskTimeout); the answer is written after it.")
    max_parallel: int = Field(2, description="Tasks running at once.")
    memory_budget_mb: int = Field(
        6144, description="While the process's resident memory (measured RSS) is above this, idle loaded models are "
                          "unloaded, least recently used first; models in use never are.")
    selector_top_k: int = Field(5, description="Candidates shown to the LLM when it chooses a model.")
    model_choice: ModelChoiceMode = Field(
        "local_first", description="When a capable LLM chooses a task's model. `local_first`: only where the "
                                   "top-ranked model is a hub model; a model that runs here without the hub (your "
                                   "catalog entry, an embedded expert, the controller LLM) is kept without a call. "
                                   "`llm`: wherever a task has more than one candidate.")
    max_request_chars: int = Field(20000, description="Longer requests are rejected.")
    max_plan_tasks: int = Field(
        64, ge=1, description="Tasks one plan may have, counted as listed and again after multi-output arguments "
                              "are unfolded; more is a PlanTooLarge error.")
    max_history_turns: int = Field(
        200, ge=0, description="Earlier chat messages a request may bring; more is refused (RequestTooLarge).")
    max_history_chars: int = Field(
        200_000, ge=0, description="Characters of chat history a request may bring; more is refused "
                                   "(RequestTooLarge).")
    overrides: dict[str, str] = Field(
        default_factory=dict, description="task -> model id to force (e.g. {image-classification: my/model}).")
    # hub model backends (docs/backends.md)
    catalog_file: Path | None = Field(None, description="YAML list of extra model cards (local dirs, private models).")
    hub: HubSettings = Field(default_factory=HubSettings, description="Hub model backends (docs/backends.md).")
    model_servers: list[ModelServerSettings] = Field(
        default_factory=list, description="Model servers for the http backend (hugginggpt models-server, JARVIS).")
    server: ServerSettings = Field(default_factory=ServerSettings, description="`hugginggpt serve` (docs/server.md).")
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings, description="docs/scaling.md")
    tracing: TracingSettings = Field(default_factory=TracingSettings, description="docs/observability.md")
    cache: CacheSettings = Field(default_factory=CacheSettings, description="docs/observability.md")
    costs: CostSettings = Field(default_factory=CostSettings, description="docs/observability.md")

    @model_validator(mode="before")
    @classmethod
    def _hub_fields_at_top_level(cls, data: Any) -> Any:
        """Move the top-level spelling of the hub settings (``device: cuda``) into ``hub``."""
        return nest_hub_fields(data)

    @field_validator("cache", mode="before")
    @classmethod
    def _cache_switch(cls, value: Any) -> Any:
        """``cache: off`` (YAML reads it as false) or ``cache: on``."""
        if isinstance(value, bool):
            return {"enabled": value, "plans": value}
        if isinstance(value, str) and value.lower() in ("off", "on", "false", "true"):
            on = value.lower() in ("on", "true")
            return {"enabled": on, "plans": on}
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = os.environ.get("HUGGINGGPT_CONFIG", "hugginggpt.yaml")
        return (_NestedHub(init_settings), env_settings, _TopLevelHubEnv(settings_cls),
                _NestedHub(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file)))

    def with_overrides(self, **changes: Any) -> HuggingGPTConfig:
        """A copy with some fields changed (``llm`` may be a partial dict)."""
        data = self.model_dump()
        for key, value in changes.items():
            if value is None:
                continue
            if key == "llm" and isinstance(value, dict):
                data["llm"].update({k: v for k, v in value.items() if v is not None})
            else:
                data[key] = value
        return HuggingGPTConfig.model_validate(data)

    @property
    def workspace_path(self) -> Path:
        return self.workspace.expanduser().resolve()

    @property
    def run_database(self) -> Path:
        """The run history database: ``server.database``, default ``<workspace>/server.sqlite3`` (the server and the
        CLI share it, so their runs are listed together)."""
        return Path(self.server.database or self.workspace_path / "server.sqlite3")
