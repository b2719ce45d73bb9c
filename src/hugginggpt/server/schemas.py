"""Request and response models of the HTTP API (they make the OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
        413: "Body, chat history or file over a configured limit",
        415: "An uploaded or inline file that is not an image, audio or video file",
        422: "Request does not match the schema, no valid plan, or no model for the tasks",
        429: "The controller LLM's quota", 500: "Internal error",
        502: "The LLM or an expert failed", 503: "The LLM or an expert is unavailable, or the run was interrupted",
        504: "A task timed out", 507: "The workspace cannot be written (disk full)",
    }.items()
}


# What the schema says of a request, so that every body it calls valid is one the server accepts: a text that is
# not only whitespace (Python's whitespace, which is what the server strips), and among the messages a user message
# with such a text (the request is the last of them).
MAX_FILES = 64  # attachments one list may name; the whole request is capped at MAX_ATTACHMENTS (inputs.py)
# Padded base64, as the server decodes it ("lrDPP=" has a wrong length: refused by the schema, not with a 400).
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
NONBLANK = "[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"
HAS_REQUEST: dict[str, Any] = {"contains": {
    "type": "object", "required": ["role", "content"],
    "properties": {"role": {"const": "user"}, "content": {"anyOf": [
        {"type": "string", "pattern": NONBLANK},
        {"type": "array", "contains": {"type": "object", "required": ["type", "text"], "properties": {
            "type": {"const": "text"}, "text": {"type": "string", "pattern": NONBLANK}}}}]}}}}
MESSAGES_DOC = ("The chat: the last user message with a text is the request, the user and assistant messages before "
                "it are the history; later messages are ignored, except that files of later user messages are "
                "attached to the request.")


class ImageURL(BaseModel):
    model_config = ConfigDict(strict=True)
    url: str = Field(description="A data: URL, /v1/artifacts/<name>, an upload name, or http(s) (if allowed).")


class InputAudio(BaseModel):
    model_config = ConfigDict(strict=True)
    data: str = Field(description="Base64-encoded audio.", pattern=BASE64, json_schema_extra={
        "contentEncoding": "base64"})
    format: str = "wav"


class ContentPart(BaseModel):
    """An OpenAI content part: text, an image or an audio clip."""

    model_config = ConfigDict(extra="ignore", strict=True)
    type: Literal["text", "image_url", "input_audio", "file"]
    text: str | None = None
    image_url: ImageURL | None = None
    input_audio: InputAudio | None = None
    file: dict[str, Any] | None = Field(None, description="{file_id: <upload sha256 or name>}")


class ChatMessage(BaseModel):
    """A chat message (JARVIS and OpenAI shape). ``files`` lists uploads attached to it (names or sha256)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = ""
    files: list[str] = Field(default_factory=list, max_length=MAX_FILES,
                             description="Uploads attached to this message.")
    run_id: str | None = Field(None, pattern=ID_PATTERN, description="On an assistant message: the run that "
                               "answered it (the answer's run_id), whose stored outputs the next turns work on "
                               "whatever the message's text says.")


# ----- JARVIS-compatible ----------------------------------------------------------------------------------------
class JarvisRequest(BaseModel):
    """JARVIS's body: the last user message is the request, earlier ones the chat history. JARVIS's ``api_key``,
    ``api_type`` and ``api_endpoint`` fields are accepted and ignored (the server's configuration decides)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    messages: list[ChatMessage] = Field(min_length=1, description=MESSAGES_DOC, json_schema_extra=HAS_REQUEST)


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
    cached: bool = Field(False, description="Answered from the result cache (a deterministic expert, same inputs).")


class RunCreate(BaseModel):
    """Start a run: either ``request`` (+ optional ``conversation_id`` to continue a stored conversation) or
    ``messages`` (JARVIS/OpenAI shape)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=lambda s: _run_create_schema(s))
    request: str | None = Field(None, description="What to do.")
    messages: list[ChatMessage] | None = Field(None, min_length=1, description="Alternative to request: "
                                               + MESSAGES_DOC[0].lower() + MESSAGES_DOC[1:])
    files: list[str] = Field(default_factory=list, max_length=MAX_FILES,
                             description="Uploads to attach (name or sha256).")
    conversation_id: str | None = Field(None, pattern=ID_PATTERN,
                                        description="Continue (or start) a stored conversation.")

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        """``request`` or ``messages``, exactly one; the optional fields are absent or set, never null (as the
        schema says)."""
        if isinstance(data, dict):
            nulls = [k for k in ("request", "messages", "conversation_id") if k in data and data[k] is None]
            if nulls:
                raise ValueError(f"{', '.join(nulls)} may be left out but not null")
            if ("request" in data) == ("messages" in data):
                raise ValueError("give either 'request' or 'messages' (exactly one)")
        return data


def _run_create_schema(schema: dict[str, Any]) -> None:
    """The schema of ``RunCreate`` as the validator enforces it: optional fields are not nullable, exactly one of
    ``request`` and ``messages``, a request that is not blank, messages holding a request."""
    props = schema["properties"]
    for name in ("request", "messages", "conversation_id"):
        prop = props[name]
        branch = next(b for b in prop.pop("anyOf") if b.get("type") != "null")
        prop.pop("default", None)
        prop.update(branch)
    props["request"]["pattern"] = NONBLANK
    props["messages"].update(HAS_REQUEST)
    schema["oneOf"] = [{"required": ["request"]}, {"required": ["messages"]}]


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

    model_config = ConfigDict(extra="ignore", strict=True)
    model: str = "hugginggpt"
    messages: list[ChatMessage] = Field(min_length=1, description=MESSAGES_DOC, json_schema_extra=HAS_REQUEST)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    files: list[str] = Field(default_factory=list, max_length=MAX_FILES, description="Uploads to attach.")
    user: str | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    run_id: str | None = Field(None, description="The run that answered (extension): a client that sends this "
                               "message back in its history as it is keeps the run's outputs in memory.")


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
