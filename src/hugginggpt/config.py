"""Settings: defaults -> ``hugginggpt.yaml`` -> environment ``HUGGINGGPT_*`` -> explicit arguments/CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from .server.settings import ServerSettings


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
    task_timeout: float = Field(300.0, description="Seconds before a task is abandoned with TaskTimeout.")
    run_timeout: float = Field(
        1800.0, gt=0, description="Seconds from the start of a run by which every task has ended (tasks still "
                                  "running then fail with TaskTimeout); the answer is written after it.")
    max_parallel: int = Field(2, description="Tasks running at once.")
    memory_budget_mb: int = Field(
        6144, description="While the process's resident memory (measured RSS) is above this, idle loaded models are "
                          "unloaded, least recently used first; models in use never are.")
    selector_top_k: int = Field(5, description="Candidates shown to the LLM when it chooses a model.")
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
    model_servers: list[ModelServerSettings] = Field(
        default_factory=list, description="Model servers for the http backend (hugginggpt models-server, JARVIS).")
    server: ServerSettings = Field(default_factory=ServerSettings, description="`hugginggpt serve` (docs/server.md).")

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
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))

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
