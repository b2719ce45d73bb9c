"""From detected tools to a tool graph: order the tools, connect them through their types, fill literal arguments.

Order: every permutation of the detected tools (up to ``MAX_PERMUTED``) is scored by how often the training plans
start with its first tool and link each tool to the next (``edges``, smoothed toward the edges the tools' types
allow) plus agreement with the order in which the request mentions them. Connections: a node reads at most one
earlier output, chosen by type (media inputs before text, outputs nothing reads yet first, the nearest first);
its other inputs take literals from the request: files and URLs of the input's type, quoted text, a text file, or
the words of the clause that asked for the tool.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .learned import ToolSig
from .lexicon import pattern
from .text import ParsedRequest

MAX_PERMUTED = 6
SMOOTH = 0.5  # pseudo-count of an edge the types allow
ORDER_WEIGHT = 6.0  # weight of one pair of tools kept in the order of mention (5-fold CV on dev: 1, 3, 6, 15 tried)
_URL = ("http://", "https://", "www.")


@dataclass
class PlannedNode:
    """One node of a TaskBench-style plan: a tool and its arguments; ``("ref", j)`` is node j's output."""

    tool: str
    args: list[str | tuple[str, int]] = field(default_factory=list)


def fits(a: ToolSig, b: ToolSig) -> bool:
    """Whether an output of ``a`` can be an input of ``b``."""
    return any(o in b.inputs for o in a.outputs)


def order(chosen: Sequence[int], places: Sequence[float], tools: Sequence[ToolSig], edges: np.ndarray,
          roots: np.ndarray) -> list[int]:
    """The best order of ``chosen`` tools (indices into ``tools``); ``places`` are their places in the request."""
    chosen = list(chosen)
    place = dict(zip(chosen, places, strict=True))
    if len(chosen) <= 1:
        return chosen
    by_place = sorted(chosen, key=lambda i: place[i])
    if len(chosen) > MAX_PERMUTED:
        return by_place
    root_total = float(roots[chosen].sum()) + len(chosen)

    def step(a: int, b: int) -> float:
        allowed = [c for c in chosen if c != a and fits(tools[a], tools[c])]
        total = float(sum(edges[a, c] for c in chosen if c != a)) + SMOOTH * len(allowed)
        own = float(edges[a, b]) + (SMOOTH if b in allowed else 0.0)
        return math.log((own + 1e-3) / (total + 1e-3 * len(chosen)))

    best, best_score = by_place, -math.inf
    for perm in itertools.permutations(chosen):
        score = math.log((float(roots[perm[0]]) + 1.0) / root_total)
        score += sum(step(a, b) for a, b in itertools.pairwise(perm))
        score += ORDER_WEIGHT * sum(place[a] <= place[b] for a, b in itertools.combinations(perm, 2))
        if score > best_score + 1e-9:
            best, best_score = list(perm), score
    return best


class _Literals:
    """The request's literal values by kind, handed out first unused first."""

    def __init__(self, parsed: ParsedRequest) -> None:
        self.parsed = parsed
        res = [r for r in parsed.resources if not r.output]
        self.urls = [r.name for r in res if r.name.lower().startswith(_URL)]
        self.files = {m: [r.name for r in res if r.media == m and not r.name.lower().startswith(_URL)]
                      for m in ("image", "audio", "video", "text")}
        self.media_urls = {m: [r.name for r in res if r.media == m and r.name.lower().startswith(_URL)]
                           for m in ("image", "audio", "video", "text")}
        self.quotes = [q.text for q in parsed.quotes]
        self.used: set[str] = set()

    def _take(self, pool: Sequence[str], reuse: bool = True) -> str | None:
        for v in pool:
            if v not in self.used:
                self.used.add(v)
                return v
        return pool[0] if pool and reuse else None

    def get(self, kind: str, span: tuple[int, int]) -> str:
        if kind == "url":
            return self._take(self.urls) or self._take(self.quotes) or _clause_text(self.parsed, span)
        if kind in ("image", "audio", "video"):
            return self._take(self.files[kind]) or self._take(self.media_urls[kind]) or f"example.{_EXT[kind]}"
        found = self._take(self.quotes, reuse=False) or self._take(self.files["text"], reuse=False)
        return found or _clause_text(self.parsed, span)


_EXT = {"image": "jpg", "audio": "wav", "video": "mp4"}


def _clause_text(parsed: ParsedRequest, span: tuple[int, int]) -> str:
    text = parsed.text[span[0]: span[1]].strip(" ,.;:?!")
    lead = pattern("assembly", "clause_lead")  # "please", "can you": not part of the clause's text
    prev = None
    while prev != text:
        prev, text = text, lead.sub("", text).strip()
    return text or parsed.text.strip()


def connect(sequence: Sequence[int], spans: Sequence[tuple[int, int]], tools: Sequence[ToolSig],
            parsed: ParsedRequest) -> list[PlannedNode]:
    """Nodes for ``sequence`` (tool indices in plan order), each input a reference or a literal.

    A node reads at most one earlier output (what the training plans do in nine cases out of ten: a question
    answered about a generated image keeps the question as text); a media input (image, audio, video) gets it
    before a text input, and an output nothing reads yet before one already read.
    """
    literals = _Literals(parsed)
    nodes: list[PlannedNode] = []
    read: set[int] = set()
    for pos, (ti, span) in enumerate(zip(sequence, spans, strict=True)):
        tool = tools[ti]
        ref_slot, source = _pick_reference(pos, sequence, tool, tools, read)
        node = PlannedNode(tool.name)
        for k, kind in enumerate(tool.inputs):
            if k == ref_slot and source is not None:
                read.add(source)
                node.args.append(("ref", source))
            else:
                node.args.append(literals.get(kind, span))
        nodes.append(node)
    return nodes


def unfed(nodes: Sequence[PlannedNode], sequence: Sequence[int], tools: Sequence[ToolSig],
          parsed: ParsedRequest) -> list[int]:
    """Tools (indices into ``tools``) of nodes with a media input that neither an earlier node nor the request
    provides (it would read an invented file): in the training plans every media file a node reads is named in the
    request, so such a tool was detected by mistake."""
    given = {r.media for r in parsed.resources if not r.output}
    out = []
    for node, ti in zip(nodes, sequence, strict=True):
        kinds = tools[ti].inputs
        if any(kind in _EXT and isinstance(arg, str) and kind not in given for kind, arg in zip(kinds, node.args,
                                                                                                strict=False)):
            out.append(ti)
    return out


def _pick_reference(pos: int, sequence: Sequence[int], tool: ToolSig, tools: Sequence[ToolSig],
                    read: set[int]) -> tuple[int | None, int | None]:
    """(input slot, earlier node) of the one reference a node gets, or (None, None)."""
    best: tuple[tuple[int, int, int], int, int] | None = None
    for k, kind in enumerate(tool.inputs):
        for j in range(pos - 1, -1, -1):
            if kind in tools[sequence[j]].outputs:
                rank = (j not in read, kind != "text", j)  # fresh first, then media, then the nearest
                if best is None or rank > best[0]:
                    best = (rank, k, j)
                break  # the nearest fitting output for this slot
    return (best[1], best[2]) if best else (None, None)
