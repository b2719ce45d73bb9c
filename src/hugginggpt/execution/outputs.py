"""The boundary between an expert and the rest of the system: check what it returned before anything uses it.

An expert may return anything: ``None``, a bare string, an output of a kind nobody knows, a media output with no
bytes, bytes that are not the image or sound they claim to be. Each of these ends here as a named
``ExpertOutputError`` for its task alone, so that nothing downstream (the artifact store, dependants, the answer)
ever stores, feeds on or cites a broken output. Images are checked by their header against the pixel limit
(``imaging.check_image_pixels``: a decompression bomb from an expert is refused like one from a user) and then fully
decoded; audio and video are checked by their container signature.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..codec.formats import Format, names_of, sniff
from ..errors import ExpertOutputError, HuggingGPTError
from ..experts.base import ExpertOutput, ExpertResult
from ..media import media_of_name

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..catalog.cards import ModelCard
    from ..experts.pool import ExpertPool

Kind = Literal["text", "image", "audio", "video", "json"]
KINDS: tuple[str, ...] = ("text", "image", "audio", "video", "json")
_HINT = "The model returned a broken result; try another model for this task or report it to its maintainers."


@dataclass(frozen=True)
class CheckedOutput:
    """One output that passed the checks: text for ``text``; bytes and an extension for the others."""

    kind: Kind
    text: str | None = None
    data: bytes | None = None
    ext: str | None = None


def check_result(result: Any, what: str) -> tuple[list[CheckedOutput], dict[str, Any]]:
    """Return the checked outputs and facts of an expert's result, or raise ``ExpertOutputError``.

    ``what`` names the model in the messages (e.g. ``"hugginggpt/piper-joe-medium"``).
    """
    if not isinstance(result, ExpertResult):
        raise _bad(what, f"returned {_type(result)} instead of an ExpertResult")
    outputs = result.outputs
    if not isinstance(outputs, (list, tuple)):
        raise _bad(what, f"returned outputs as {_type(outputs)} instead of a list")
    if not outputs:
        raise _bad(what, "returned no outputs")
    facts = result.data if result.data is not None else {}
    if not isinstance(facts, dict) or not all(isinstance(k, str) for k in facts):
        raise _bad(what, f"returned facts as {_type(facts)} instead of a dict with text keys")
    _check_jsonable(facts, what)
    return [_check_output(out, i, what) for i, out in enumerate(outputs)], facts


def run_checked(pool: ExpertPool, backend: Backend, card: ModelCard, request: str, inputs: dict[str, Any]
                ) -> tuple[list[CheckedOutput], dict[str, Any]]:
    """Load and run ``card``'s expert under a lease of ``pool`` (the pool cannot unload a model in use), then check
    its result where it ran (images are decoded): blocking, for a worker thread or a Ray actor."""
    with pool.leasing():
        result = backend.expert(card, request).run(inputs)
    return check_result(result, card.id)


def _check_output(out: Any, i: int, what: str) -> CheckedOutput:
    if not isinstance(out, ExpertOutput):
        raise _bad(what, f"output {i} is {_type(out)}, not an ExpertOutput")
    kind = out.kind
    if kind not in KINDS:
        raise _bad(what, f"output {i} has the unknown kind {str(kind)[:40]!r} (known: {', '.join(KINDS)})")
    if kind == "text":
        if not isinstance(out.text, str):
            raise _bad(what, f"text output {i} holds {_type(out.text)} instead of text")
        return CheckedOutput("text", text=out.text)
    data = out.data
    if kind == "json" and data is None and isinstance(out.text, str):
        data = out.text.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)) or not len(data):
        raise _bad(what, f"{kind} output {i} has no data ({_type(data)})")
    data = bytes(data)
    if kind == "image":
        ext = _check_image(data, i, what)
    elif kind in ("audio", "video"):
        ext = _ext(out.ext, kind, _check_container(data, kind, i, what))
    else:
        try:
            json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad(what, f"json output {i} is not JSON ({exc})") from None
        ext = ".json"
    return CheckedOutput(kind, data=data, ext=ext)


def _ext(given: Any, kind: str, fmt: Format) -> str:
    """The extension of the format found in the bytes (a PNG named ``.wav`` would be offered as sound); the
    expert's own only for containers the signature leaves ambiguous, when it names a file of the same kind."""
    if fmt.ambiguous and isinstance(given, str) and given:
        ext = given if given.startswith(".") else f".{given}"
        if media_of_name(f"x{ext}") == kind:
            return ext
    return fmt.ext[kind]


def _check_image(data: bytes, i: int, what: str) -> str:
    """The declared size within the pixel limit (before any decoding), then a full decode (truncation, bad CRCs).
    Returns the extension of the format found."""
    from PIL import Image

    from ..imaging import check_image_pixels

    try:
        size = check_image_pixels(data, name=f"Image output {i} of {what}")
    except HuggingGPTError:
        raise  # MediaTooLarge: named, with its hint
    except Exception as exc:  # noqa: BLE001 - a header PIL chokes on in an unforeseen way is a broken image too
        raise _bad(what, f"image output {i} has a broken header: {type(exc).__name__}: {str(exc)[:200]}") from None
    if size is None:
        raise _bad(what, f"image output {i} is not an image PIL can read ({len(data)} bytes, starting "
                         f"{data[:8]!r})")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            fmt = (im.format or "png").lower()
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the bytes are broken
        raise _bad(what, f"image output {i} is broken: {type(exc).__name__}: {str(exc)[:200]}") from None
    return {"jpeg": ".jpg", "mpo": ".jpg", "tiff": ".tif"}.get(fmt, f".{fmt}")


def _is_wav(data: bytes) -> bool:
    """RIFF/WAVE with a ``fmt `` chunk and a ``data`` chunk (walks the chunk list; no decoding)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    pos, seen = 12, set[bytes]()
    while pos + 8 <= len(data) and len(seen) < 64:
        cid, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        seen.add(cid)
        if cid == b"data":  # a streamed WAV may declare a size of 0 or 0xFFFFFFFF: the samples that follow count
            return b"fmt " in seen and pos + 8 < len(data)
        pos += 8 + size + (size & 1)
    return False


def _check_container(data: bytes, kind: str, i: int, what: str) -> Format:
    """The container format (codec/formats.py) of an audio or video output, or ExpertOutputError."""
    fmt = sniff(data[:32])
    if fmt is not None and kind in fmt.kinds and (fmt.name != "WAV" or _is_wav(data)):
        return fmt
    raise _bad(what, f"{kind} output {i} is not a {'/'.join(names_of(kind))} file ({len(data)} bytes, starting "
                     f"{data[:12]!r})")


def _check_jsonable(facts: dict[str, Any], what: str) -> None:
    """Facts end in the run record (JSON): refuse what cannot be written there instead of failing the whole run."""
    from pydantic_core import to_jsonable_python

    try:
        to_jsonable_python(facts)
    except Exception as exc:  # noqa: BLE001 - pydantic's serialisation errors have several types
        raise _bad(what, f"returned facts that cannot be recorded as JSON ({str(exc)[:200]})") from None


def _type(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def _bad(what: str, why: str) -> ExpertOutputError:
    return ExpertOutputError(f"{what} {why}.", hint=_HINT)
