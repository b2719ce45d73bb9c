"""One exception hierarchy. Every message says what was wrong and what to do about it."""

from __future__ import annotations


class HuggingGPTError(Exception):
    """Base class of every error hugginggpt raises on purpose."""

    code = "hugginggpt_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}" if hint else message)

    def to_dict(self) -> dict[str, str]:
        out = {"type": type(self).__name__, "code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class ConfigError(HuggingGPTError):
    code = "config_error"


class RequestError(HuggingGPTError):
    """The request itself cannot be processed (empty, too long...)."""

    code = "bad_request"


class RequestTooLarge(RequestError):
    """The request, its history, a body or an input file is over a configured size limit."""

    code = "request_too_large"


class InternalError(HuggingGPTError):
    """An unexpected exception inside hugginggpt, caught and named so that no run is lost to it."""

    code = "internal_error"


class StorageError(HuggingGPTError):
    """The workspace cannot be written (disk full, read-only, permissions)."""

    code = "storage_error"


class PlanError(HuggingGPTError):
    """The plan is invalid and could not be repaired."""

    code = "plan_error"
    # The media of the input the request lacks ("text" for "now read it aloud" with no text to read), set by the
    # planner's missing-input error (``MissingInputError``); None for every other plan error. The agent then works
    # on an earlier answer's text output (chat memory).
    media: str | None = None

    def __init__(self, message: str, *, issues: list[str] | None = None, hint: str | None = None) -> None:
        self.issues = list(issues or [])
        detail = message if not self.issues else message + " Problems: " + "; ".join(self.issues)
        super().__init__(detail, hint=hint)


class UnknownTaskError(PlanError):
    code = "unknown_task"


class PlanTooLarge(PlanError):
    """A plan over a size limit: too many tasks (``max_plan_tasks``, also after unfolding), nested too deep, or too
    long to read."""

    code = "plan_too_large"


class ResourceError(HuggingGPTError):
    """A file, path or URL that may not or cannot be used as an input."""

    code = "resource_error"


class MediaTooLarge(ResourceError):
    """A media input over a size limit: an image with more pixels than ``max_image_pixels``, a file over
    ``max_input_mb``, audio or video too long."""

    code = "media_too_large"


class ResourceAccessDenied(ResourceError):
    """The input exists (or may exist) but may not be read: outside the allowed places, URLs off, private host."""

    code = "resource_forbidden"


class ModelSelectionError(HuggingGPTError):
    """No model can serve a task with the configured backends."""

    code = "no_model"


class ExpertError(HuggingGPTError):
    """An expert model failed while running."""

    code = "expert_error"


class ExpertInputError(ExpertError):
    """An expert got an input of the wrong type or a broken file."""

    code = "expert_input_error"


class ExpertUnavailable(ExpertError):
    """An expert cannot be loaded here (missing package, missing weights...)."""

    code = "expert_unavailable"


class ExpertOutputError(ExpertError):
    """An expert returned something that is not a valid output (None, wrong type, unknown kind, broken media)."""

    code = "expert_bad_output"


class ExpertCrashed(ExpertError):
    """An expert died while running (a native crash, ``sys.exit``, killed for memory)."""

    code = "expert_crashed"


class TaskTimeout(ExpertError):
    code = "task_timeout"


class LLMError(HuggingGPTError):
    code = "llm_error"


class LLMUnavailable(LLMError):
    code = "llm_unavailable"


class LLMAuthError(LLMError):
    code = "llm_auth"


class LLMQuotaError(LLMError):
    code = "llm_quota"


class LLMResponseError(LLMError):
    """The LLM answered, but not with something usable (garbage, truncated JSON...)."""

    code = "llm_bad_response"


class LLMTruncated(LLMResponseError):
    """The LLM stopped at its token limit (``finish_reason: length``) before writing any answer text."""

    code = "llm_truncated"


def error_class(code: str, type_name: str | None = None) -> type[HuggingGPTError] | None:
    """The class of a reported error (an ``ErrorInfo``, a stored run's error): by class name, else the first class
    with that code; None for an error that is no ``HuggingGPTError`` (``Skipped``, ``Interrupted``)."""
    found: type[HuggingGPTError] | None = None
    stack: list[type[HuggingGPTError]] = [HuggingGPTError]
    while stack:
        cls = stack.pop()
        if type_name and cls.__name__ == type_name:
            return cls
        if found is None and cls.code == code:
            found = cls
        stack.extend(cls.__subclasses__())
    return found


def is_input_error(code: str, type_name: str | None = None) -> bool:
    """Whether a run's error is its input's fault, refused before any task ran: the request (``RequestError``) or
    a file or path it names (``ResourceError``). ``hugginggpt run`` exits 2 for these, as for any bad input."""
    cls = error_class(code, type_name)
    return cls is not None and issubclass(cls, (RequestError, ResourceError))
