"""Resource memory across chat turns: files named in earlier user messages and artifacts cited in answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .artifacts import ArtifactStore
from .media import media_of_name
from .planning.base import KnownResource

_TOKEN = re.compile(r"[\w./~-]+\.[A-Za-z0-9]{2,5}")


def known_resources(history: list[dict[str, Any]], store: ArtifactStore) -> list[KnownResource]:
    """Resources mentioned in earlier turns, oldest first, so that the most recent of a type is the last one.

    User messages may name files (``examples/cat.png``); assistant answers cite artifact paths in the store. Text
    outputs cited as ``.txt`` artifacts are skipped: their content is already in the answer text.
    """
    found: list[KnownResource] = []
    seen: set[str] = set()
    for msg in history:
        content = str(msg.get("content") or "")
        for token in _TOKEN.findall(content):
            media = media_of_name(token)
            if media is None or token in seen:
                continue
            if msg.get("role") == "assistant" and not store.contains_path(Path(token)):
                continue
            seen.add(token)
            found.append(KnownResource(name=token, media=media, origin="history" if msg.get("role") == "assistant"
                                       else "user"))
        for path in msg.get("files") or []:
            media = media_of_name(str(path))
            if media and str(path) not in seen:
                seen.add(str(path))
                found.append(KnownResource(name=str(path), media=media, origin="user"))
    return found


# A task line of the deterministic answer: `0. image-to-text with some/model: "the text output"`.
_TEXT_RESULT = re.compile(r'^\d+\. [\w-]+(?: with \S+)?: "(.*)"', re.M)


def last_text_output(history: list[dict[str, Any]], max_chars: int = 2000) -> str | None:
    """The text the previous answer produced, for "read it aloud"-style follow-ups.

    From the deterministic answer format: the last task's quoted text output; from any other (LLM-written) answer:
    its whole content. None when there is no earlier answer.
    """
    for msg in reversed(history):
        if msg.get("role") != "assistant":
            continue
        content = str(msg.get("content") or "").strip()
        if not content:
            return None
        quoted = _TEXT_RESULT.findall(content)
        text = quoted[-1] if quoted else content
        return text.removesuffix("...")[:max_chars] or None
    return None
