"""What a run produces: per-task results, the run result, and the event stream."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from .artifacts import Artifact
from .errors import HuggingGPTError
from .plan_schema import TaskSpec
from .progress import Progress

TaskStatus = Literal["pending", "running", "ok", "failed", "skipped"]
RunStatus = Literal["succeeded", "partial", "failed"]


class ModelChoice(BaseModel):
    """The model picked for a task, with the backend that runs it and why it was picked."""

    task_id: int
    task: str
    model_id: str
    backend: str
    reason: str
    candidates: list[str] = Field(default_factory=list)


class ErrorInfo(BaseModel):
    type: str
    code: str
    message: str
    hint: str | None = None

    @classmethod
    def from_exc(cls, exc: BaseException) -> ErrorInfo:
        if isinstance(exc, HuggingGPTError):
            return cls(type=type(exc).__name__, code=exc.code, message=exc.message, hint=exc.hint)
        return cls(type=type(exc).__name__, code="internal_error", message=str(exc) or repr(exc))


class TaskResult(BaseModel):
    """The outcome of one task: its outputs (artifacts) or why it failed or was skipped."""

    task: TaskSpec
    status: TaskStatus = "pending"
    choice: ModelChoice | None = None
    outputs: list[Artifact] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    error: ErrorInfo | None = None
    inputs: dict[str, str] = Field(default_factory=dict, description="slot -> resolved value or file path")
    started_at: float | None = None
    seconds: float | None = None
    cached: bool = Field(False, description="Answered from the result cache (a deterministic expert, same inputs).")

    def output_of(self, media: str) -> Artifact | None:
        return next((a for a in self.outputs if a.kind == media), None)

    @property
    def text(self) -> str | None:
        art = self.output_of("text")
        return art.text if art else None


class TurnFile(BaseModel):
    """A file an earlier turn produced: its path in the artifact store, its media and the task that made it."""

    path: str
    kind: Literal["image", "audio", "video"]
    task: str = Field("", description="The task that made it (e.g. canny-control: the file is a control map).")


class Turn(BaseModel):
    """One chat message as memory reads it. A plain ``{"role", "content"}`` message from any client is a turn whose
    outputs are unknown (``artifacts`` and ``texts`` None): its text is parsed for file paths and quoted outputs. An
    answer the agent or the server produced carries its run's real outputs instead (``RunResult.as_turn``, or the
    server resolving ``run_id``), and those are used whatever the content says."""

    model_config = ConfigDict(extra="ignore")
    role: str = "user"
    content: str = ""
    files: list[str] = Field(default_factory=list, description="Files attached to a user message.")
    run_id: str | None = Field(None, description="The run that wrote this answer.")
    artifacts: list[TurnFile] | None = Field(None, description="The files the run made (None: unknown).")
    texts: list[str] | None = Field(None, description="The run's text outputs in order (None: unknown, read the "
                                                      "content).")

    @field_validator("content", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else value if isinstance(value, str) else str(value)

    @field_validator("files", mode="before")
    @classmethod
    def _names(cls, value: Any) -> list[str]:
        return [str(v) for v in value or []]


class RunResult(BaseModel):
    """Everything a run did: request, plan, choices, results, answer, artifacts, timings and token usage."""

    run_id: str
    request: str
    plan: list[TaskSpec] = Field(default_factory=list)
    planner: str = ""
    plan_notes: list[str] = Field(default_factory=list)
    results: list[TaskResult] = Field(default_factory=list)
    answer: str = ""
    error: ErrorInfo | None = Field(None, description="Set when the run failed before execution (e.g. PlanError).")
    timings: dict[str, float] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)

    @property
    def artifacts(self) -> list[Artifact]:
        return [a for r in self.results for a in r.outputs]

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.status == "ok" for r in self.results)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> RunStatus:
        """``succeeded``: no run error and every task ok (a chit-chat answer with no tasks included); ``partial``:
        some tasks ok, some failed or skipped; ``failed``: a run error, or tasks were planned and none succeeded."""
        if self.error is not None:
            return "failed"
        ok = sum(r.status == "ok" for r in self.results)
        if ok == len(self.results):
            return "succeeded"
        return "partial" if ok else "failed"

    def result_for(self, task_id: int) -> TaskResult | None:
        return next((r for r in self.results if r.task.id == task_id), None)

    def as_turn(self) -> Turn:
        """This run as an assistant turn of a chat history (``agent.chat([..., result.as_turn().model_dump(),
        ...])``): its answer, its id, the files it made and its text outputs. A failed run has no outputs; a run
        with no tasks (a chat answer, or a notice that nothing was made) leaves ``texts`` unknown, so that its
        answer is read as the text (a notice is not)."""
        ok = [r for r in self.results if r.status == "ok"]
        files = [TurnFile(path=str(a.path), kind=a.kind, task=r.task.task) for r in ok for a in r.outputs
                 if a.kind in ("image", "audio", "video")]
        texts: list[str] | None = [a.text.strip() for r in ok for a in r.outputs
                                   if a.kind == "text" and a.text and a.text.strip()]
        if self.error is None and not self.results:
            texts = None
        return Turn(role="assistant", content=self.answer, run_id=self.run_id, artifacts=files, texts=texts)


class Event(BaseModel):
    """One progress event: a stage starting/ending, a task changing state, or a long step inside a task (``progress``:
    a slow model load, speech chunk i/n; ``data`` holds key, done, total, seconds)."""

    kind: Literal["stage", "task", "answer", "error", "progress"]
    stage: Literal["plan", "select", "execute", "respond", "done"] | None = None
    status: str = ""
    task_id: int | None = None
    task: str | None = None
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    at: float = Field(default_factory=time.time)


def progress_event(update: Progress) -> Event:
    """A progress update (a slow model load, speech chunk i/n) as an event of the run's stream (kind ``progress``)."""
    return Event(kind="progress", status="done" if update.finished else "running", message=update.message,
                 data={"key": update.key, "done": update.done, "total": update.total, "seconds": update.seconds})
