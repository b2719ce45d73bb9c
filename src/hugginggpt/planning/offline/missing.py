"""The error for a task whose input is nowhere: it says which input is missing and how to give it."""

from __future__ import annotations

import re

from ...errors import PlanError

_EXAMPLE = {"image": "photo.jpg", "audio": "recording.wav", "video": "clip.mp4", "text": "notes.txt"}


class MissingInputError(PlanError):
    """A task's input is nowhere to be found (the request, the attachments, earlier outputs)."""

    code = "missing_input"

    def __init__(self, message: str, *, media: str, hint: str) -> None:
        self.media = media
        super().__init__(message, hint=hint)


def missing_input(task: str, media: str) -> MissingInputError:
    """The error for ``task`` lacking a ``media`` input."""
    article = "an" if media[0] in "aeiou" else "a"
    if media == "text":
        return MissingInputError(
            f"The request asks for {task}, which needs a text to work on, but the request gives none.",
            media=media,
            hint="Put the text in quotes, e.g. summarize 'your text here', or after a colon.",
        )
    return MissingInputError(
        f"The request asks for {task}, which needs {article} {media} input, but the request names no {media} "
        f"file and none is attached.",
        media=media,
        hint=f"Attach {article} {media} file or put its path or URL in the request, e.g. '{_EXAMPLE[media]}'.",
    )


def missing_labels(task: str) -> MissingInputError:
    """The error for a zero-shot classification without candidate labels."""
    return MissingInputError(
        f"The request asks for {task}, which needs candidate labels, but the request lists none.",
        media="text",
        hint="List the labels after the text, e.g. classify 'your text' as sports, politics or science.",
    )


# A file name of a kind no task reads (documents, spreadsheets, archives): said when it is all the request gives.
_UNREAD = re.compile(r"(?<![\w/.:-])[\w./-]*\w\."
                     r"(pdf|docx?|odt|rtf|epub|pptx?|odp|xlsx?|ods|csv|tsv|parquet|json|xml|html?|zip|tar|gz|7z)\b",
                     re.I)


def unread_files(text: str) -> list[str]:
    """The file names in ``text`` of a kind no task reads ("invoice.pdf", "listing_row.csv")."""
    return list(dict.fromkeys(m.group(0) for m in _UNREAD.finditer(text)))


def unread_file(names: list[str]) -> MissingInputError:
    """The error for a request whose only input is a file of a kind no task reads."""
    kinds = ", ".join(dict.fromkeys(n.rsplit(".", 1)[-1].upper() for n in names))
    return MissingInputError(
        f"The request names {', '.join(names)}: no task here reads {kinds} files (tasks take images, audio, video "
        f"or text), so nothing was planned for it.",
        media="file",
        hint="Export the page or table as an image (PNG or JPG) and name or attach that, or paste its text in "
             "quotes.",
    )
