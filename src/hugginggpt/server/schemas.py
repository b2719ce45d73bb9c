"""Request and response models of the HTTP API (they make the OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# succeeded: every task ok (or a chit-chat answer); partial: some tasks ok, some failed or skipped; failed: the
# run failed before its tasks, or no task succeeded; interrupted: the server stopped while it ran.
RunStatus = Literal["queued", "running", "succeeded", "partial", "failed", "interrupted"]


# ----- shared ---------------------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    type: str
    code: str = Field(description="Machine-readable code, e.g. bad_request, plan_error, not_found.")
    message: str = Field(description="What was wrong.")
    hint: str | None = Field(None, description="What to do about it.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse, "description": d} for s, d in {
        400: "Bad request (bad JSON, empty request, unreadable input)", 401: "Missing or wrong API key",
        403: "Input refused (path outside the uploads, URL inputs disabled)", 404: "Not found",
        422: "Request does not match the schema, or no valid plan", 500: "Internal error",
    }.items()
}


class ImageURL(BaseModel):
    url: str = Field(description="A data: URL, /v1/artifacts/<name>, an upload name, or http(s) (if allowed).")


class InputAudio(BaseModel):
    data: str = Field(description="Base64-encoded audio.")
    format: str = "wav"


class ContentPart(BaseModel):
    """An OpenAI content part: text, an image or an audio clip."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["text", "image_url", "input_audio", "file"]
    text: str | None = None
    image_url: ImageURL | None = None
    input_audio: InputAudio | None = None
    file: dict[str, Any] | None = Field(None, description="{file_id: <upload sha256 or name>}")


class ChatMessage(BaseModel):
    """A chat message (JARVIS and OpenAI shape). ``files`` lists uploads attached to it (names or sha256)."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = ""
    files: list[str] = Field(default_factory=list, description="Uploads attached to this message.")


# ----- JARVIS-compatible ----------------------------------------------------------------------------------------
class JarvisRequest(BaseModel):
    """JARVIS's body: the last user message is the request, earlier ones the chat history. JARVIS's ``api_key``,
    ``api_type`` and ``api_endpoint`` fields are accepted and ignored (the server's configuration decides)."""

    model_config = ConfigDict(extra="ignore")
    messages: list[ChatMessage] = Field(min_length=1)


class JarvisMessage(BaseModel):
    message: str


class JarvisTask(BaseModel):
    task: str
    id: int
    dep: list[int]
    args: dict[str, str]


class JarvisResult(BaseModel):
    """One task's outcome, keyed as JARVIS does (``inference result``, ``choose model result``)."""

    model_config = ConfigDict(populate_by_name=True)
    task: JarvisTask
    inference_result: dict[str, Any] = Field(alias="inference result")
    choose_model_result: dict[str, Any] | None = Field(None, alias="choose model result")
    status: str


# ----- artifacts, runs ------------------------------------------------------------------------------------------
class ArtifactOut(BaseModel):
    sha256: str
    name: str = Field(description="<sha256>.<ext>: usable in requests and under /v1/artifacts/.")
    url: str
    kind: str
    mime: str
    size: int
    text: str | None = None
    task_id: int | None = None
    model_id: str | None = None


class FileOut(ArtifactOut):
    media: str = Field(description="image, audio or video, from the file's content.")
    filename: str | None = Field(None, description="The name the client sent.")


class ModelChoiceOut(BaseModel):
    model_id: str
    backend: str
    reason: str
    candidates: list[str] = Field(default_factory=list)


class TaskResultOut(BaseModel):
    id: int
    task: str
    dep: list[int]
    args: dict[str, str]
    status: str
    model: ModelChoiceOut | None = None
    outputs: list[ArtifactOut] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    error: ErrorDetail | None = None
    inputs: dict[str, str] = Field(default_factory=dict)
    seconds: float | None = None


class RunCreate(BaseModel):
    """Start a run: either ``request`` (+ optional ``conversation_id`` to continue a stored conversation) or
    ``messages`` (JARVIS/OpenAI shape)."""

    model_config = ConfigDict(extra="forbid")
    request: str | None = Field(None, description="What to do.")
    messages: list[ChatMessage] | None = Field(None, description="Alternative to request: a chat history.")
    files: list[str] = Field(default_factory=list, description="Uploads to attach (name or sha256).")
    conversation_id: str | None = Field(None, description="Continue (or start) a stored conversation.")


class RunOut(BaseModel):
    id: str
    status: RunStatus
    source: str
    request: str
    conversation_id: str | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    answer: str | None = None
    planner: str | None = None
    plan: list[JarvisTask] = Field(default_factory=list)
    results: list[TaskResultOut] = Field(default_factory=list)
    artifacts: list[ArtifactOut] = Field(default_factory=list)
    error: ErrorDetail | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    events_url: str


class RunList(BaseModel):
    runs: list[RunOut]


class EventOut(BaseModel):
    """One SSE event of /v1/runs/{id}/events (the ``data:`` line)."""

    seq: int
    kind: str
    stage: str | None = None
    status: str = ""
    task_id: int | None = None
    task: str | None = None
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    at: float


class ConversationMessage(BaseModel):
    role: str
    content: str
    files: list[str] = Field(default_factory=list)
    run_id: str | None = None
    at: float


class ConversationOut(BaseModel):
    id: str
    messages: list[ConversationMessage]


# ----- OpenAI-compatible ----------------------------------------------------------------------------------------
class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions body. Sampling fields are accepted and ignored; ``files`` is an extension."""

    model_config = ConfigDict(extra="ignore")
    model: str = "hugginggpt"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    files: list[str] = Field(default_factory=list)
    user: str | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class CompletionUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    hugginggpt: dict[str, Any] = Field(default_factory=dict, description="run_id, plan and artifacts (extension).")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "hugginggpt"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    runs_active: int
