"""Features of a request for the learned tool detector: lexical hashes and sentence embeddings.

The same functions serve training (``scripts/train_offline_planner.py``) and planning, so the two can never
disagree on how a request is read. Lexical features are hashed word unigrams and bigrams of the masked request
(files and URLs become tokens naming their media, quoted text becomes ``__quote__``), so no vocabulary file is
needed. Embeddings come from the shared MiniLM embedder when it is installed.
"""

from __future__ import annotations

import itertools
import logging
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...embedding import get_minilm
from .text import ParsedRequest, parse_request

log = logging.getLogger(__name__)

HASH_DIM = 4096
EMBED_DIM = 384
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass
class RequestFeatures:
    """A request read for detection: its clauses and their features (row 0 of each array is the whole request)."""

    parsed: ParsedRequest
    spans: list[tuple[int, int]]  # (start, end) of each clause, in order
    hashed: np.ndarray  # (1 + clauses, HASH_DIM)
    embedded: np.ndarray | None  # (1 + clauses, EMBED_DIM), None without an embedder


def tokens(parsed: ParsedRequest, start: int = 0, end: int | None = None) -> list[str]:
    """Lower-case words of ``parsed.masked[start:end]`` plus one token per file, URL and quote there."""
    end = len(parsed.text) if end is None else end
    window = parsed.masked[start:end].lower()
    out: list[tuple[int, str]] = [(m.start() + start, m.group()) for m in _WORD.finditer(window)]
    for r in parsed.resources_in(start, end):
        kind = "url" if r.name.lower().startswith(("http://", "https://", "www.")) else "file"
        out.append((r.start, f"__{r.media}_{kind}__"))
    for q in parsed.quotes_in(start, end):
        out.append((q.start, "__quote__"))
    return [t for _, t in sorted(out)]


def _bucket(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) % HASH_DIM


def hash_tokens(words: Sequence[str]) -> np.ndarray:
    """Binary hashed unigrams and bigrams, scaled to unit length (a zero vector for no words)."""
    v = np.zeros(HASH_DIM, dtype=np.float32)
    grams = list(words) + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    for g in grams:
        v[_bucket(g)] = 1.0
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


@lru_cache(maxsize=1)
def _verbs() -> tuple[str, ...]:
    from .detect import default_lexicon

    return tuple(default_lexicon().verbs)


def parse(text: str) -> ParsedRequest:
    """The request parsed as the rule-based planner parses it."""
    return parse_request(text, list(_verbs()))


def request_features(text: str, embed=None, parsed: ParsedRequest | None = None) -> RequestFeatures:
    """Features of ``text``; ``embed`` maps a list of strings to unit vectors (None: no embeddings)."""
    parsed = parsed or parse(text)
    spans = [(c.start, c.end) for c in parsed.clauses if text[c.start : c.end].strip()] or [(0, len(text))]
    hashed = np.stack([hash_tokens(tokens(parsed))] + [hash_tokens(tokens(parsed, a, b)) for a, b in spans])
    embedded = None
    if embed is not None:
        embedded = np.asarray(embed([text] + [text[a:b].strip() for a, b in spans]), dtype=np.float32)
    return RequestFeatures(parsed, spans, hashed, embedded)


def tool_text(name: str, description: str) -> str:
    """What a tool's embedding is made from."""
    return f"{name}. {description}"


def load_embedder():
    """The MiniLM ``embed`` function, or None when the embedder is not installed (lexical features only)."""
    try:
        model = get_minilm()
    except Exception as exc:  # noqa: BLE001 - a failed load (onnxruntime or a model package missing): plan without embeddings
        log.info("sentence embedder unavailable, the learned detector uses words only: %s", exc)
        return None
    return model.embed
