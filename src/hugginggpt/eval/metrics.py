"""TaskBench's planning metrics: n-F1, e-F1, t-F1, v-F1 (set-based, micro-averaged) and NED.

For one sample, a tool graph in TaskBench form (``task_nodes``: ``{"task", "arguments"}``) becomes a ``GraphView``:

- node names (``_`` read as a space, as TaskBench's script does);
- edges ``(name of node j, name of node i)`` for each argument of node i that contains ``<node-j>`` (the first
  such reference in the argument; self-references are skipped, as are references to no node);
- argument names ``"{task}-{name}"``: ``name`` is the first output type of node j's tool for ``<node-j>``
  (``"other"`` when that tool is not in the list), else the media type of the literal (``content_type``);
- argument values ``"{task}-{name}-{value}"``: ``value`` is node j's tool name for ``<node-j>``, else the literal.

Each F1 sums true/false positives and false negatives of the per-sample *sets* over all samples (micro average).
NED is 1 - the mean over samples of the normalized Indel similarity of the node-name sequences
(``Levenshtein.ratio``; rapidfuzz's ``Indel.normalized_similarity``). Lower is better.

Two rules (``RULES``):

- ``strict`` (ours): every sample counts; a failed prediction is an empty graph; every node name counts, so a
  predicted tool outside the list is a false positive; NED compares names (distinct names never match);
- ``original`` (TaskBench's script, comparable with the leaderboard): failed predictions are dropped; n-F1 only
  counts names in the tool list (on both sides); NED maps names to tool indices with 0 for every unknown name.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Indel

from .data import NODE_REF, SAMPLE_TYPES, Node, Sample
from .tools import ToolList

RULES = ("strict", "original")

# TaskBench's literal typing: a substring ".ext" anywhere in the value (quotes stripped), image before audio before
# video, else text. Kept exactly (case-sensitive substring test) so that numbers compare with the leaderboard.
_EXTENSIONS = (
    ("image", ("jpg", "png", "jpeg", "gif", "bmp", "tiff", "svg", "ico")),
    ("audio", ("mp3", "wav", "wma", "ogg", "aac", "flac", "aiff", "au")),
    ("video", ("mp4", "avi", "mov", "flv", "wmv", "mkv", "webm", "m4v", "mpg", "mpeg")),
)


def content_type(value: str) -> str:
    """The argument name TaskBench gives a literal: image / audio / video by file extension, else text."""
    v = value.strip("'")
    for media, exts in _EXTENSIONS:
        if any("." + ext in v for ext in exts):
            return media
    return "text"


def clean_name(name: Any) -> str:
    return str(name).replace("_", " ").strip()


def _text(value: Any) -> str:
    """An argument as TaskBench's script reads it: an object by its (first) value, a list joined by spaces."""
    if isinstance(value, dict):
        if "value" in value:
            return _text(value["value"])
        return _text(next(iter(value.values()))) if value else ""
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class GraphView:
    """What the metrics compare of one tool graph."""

    names: tuple[str, ...]
    edges: frozenset[tuple[str, str]]
    arg_names: frozenset[str]
    arg_values: frozenset[str]


def graph_view(nodes: Sequence[Node | dict[str, Any]], output_type_of: Callable[[str], str]) -> GraphView:
    """The ``GraphView`` of a list of TaskBench nodes (``Node`` or ``{"task", "arguments"}`` dicts)."""
    items = [(n.task, n.arguments) if isinstance(n, Node) else (n.get("task", ""), n.get("arguments", []))
             for n in nodes]
    names = tuple(clean_name(t) for t, _ in items)
    edges, arg_names, arg_values = set(), set(), set()
    for i, (_, args) in enumerate(items):
        if isinstance(args, (str, dict)):
            args = [args]
        for raw in args if isinstance(args, list) else []:
            value = _text(raw)
            m = NODE_REF.search(value)
            j = int(m.group(1)) if m else None
            if j == i:
                continue  # a node referring to itself: skipped, as TaskBench does
            if j is not None and j < len(names):
                source = names[j]
                edges.add((source, names[i]))
                kind, shown = output_type_of(source), source
            else:
                kind, shown = content_type(value), value
            arg_names.add(f"{names[i]}-{kind}")
            arg_values.add(f"{names[i]}-{kind}-{shown}")
    return GraphView(names, frozenset(edges), frozenset(arg_names), frozenset(arg_values))


@dataclass
class Counts:
    """True positives, false positives and false negatives summed over samples."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: Iterable[Any], pred: Iterable[Any]) -> None:
        g, p = set(gold), set(pred)
        self.tp += len(g & p)
        self.fp += len(p - g)
        self.fn += len(g - p)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 0.0


def sequence_similarity(gold: Sequence[Any], pred: Sequence[Any]) -> float:
    """Normalized Indel similarity (``Levenshtein.ratio``): 1 - (insertions + deletions) / (len(a) + len(b))."""
    return float(Indel.normalized_similarity(list(gold), list(pred)))


@dataclass
class Score:
    """Running totals of one rule over a set of samples."""

    nodes: Counts = field(default_factory=Counts)
    edges: Counts = field(default_factory=Counts)
    arg_names: Counts = field(default_factory=Counts)
    arg_values: Counts = field(default_factory=Counts)
    similarity: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.similarity)

    def to_dict(self) -> dict[str, Any]:
        """The metrics (None when no sample was scored)."""
        if not self.n:
            keys = ("n_f1", "e_f1", "t_f1", "v_f1", "ned", "n_precision", "n_recall", "e_precision", "e_recall")
            return {**dict.fromkeys(keys), "n_samples": 0}
        return {
            "n_f1": self.nodes.f1, "e_f1": self.edges.f1, "t_f1": self.arg_names.f1, "v_f1": self.arg_values.f1,
            "ned": 1.0 - statistics.fmean(self.similarity),
            "n_precision": self.nodes.precision, "n_recall": self.nodes.recall,
            "e_precision": self.edges.precision, "e_recall": self.edges.recall,
            "n_samples": self.n,
        }


class TaskBenchScorer:
    """Scores predictions against gold samples under both rules, overall and per sample type."""

    def __init__(self, tools: ToolList) -> None:
        self.tools = tools
        self.scores: dict[str, dict[str, Score]] = {rule: {} for rule in RULES}
        self.failed = 0
        self.predicted_off_list = 0

    def _score(self, rule: str, kind: str) -> Score:
        return self.scores[rule].setdefault(kind, Score())

    def view(self, nodes: Sequence[Node | dict[str, Any]]) -> GraphView:
        return graph_view(nodes, self.tools.output_type_of)

    def add(self, sample: Sample, prediction: Sequence[Node | dict[str, Any]] | None) -> None:
        """One sample; ``prediction`` None means the planner failed (empty plan / dropped, by rule)."""
        pred = self.view(prediction or [])
        self.failed += prediction is None
        self.predicted_off_list += sum(n not in self.tools for n in pred.names)
        strict_gold = self.view(sample.nodes)
        kinds = ("all", sample.type) if sample.type in SAMPLE_TYPES else ("all",)
        for kind in kinds:
            self._add(self._score("strict", kind), strict_gold, pred, set(strict_gold.names), set(pred.names),
                      strict_gold.names, pred.names)
        if prediction is None:
            return  # TaskBench's script never sees a prediction that failed
        gold = self.view(sample.raw_nodes)
        known = self.tools.names
        g_set = {n for n in gold.names if n in self.tools}
        p_set = {n for n in pred.names if n in self.tools}
        g_seq = [self.tools.index(n) if n in known else 0 for n in gold.names]
        p_seq = [self.tools.index(n) if n in known else 0 for n in pred.names]
        for kind in kinds:
            self._add(self._score("original", kind), gold, pred, g_set, p_set, g_seq, p_seq)

    @staticmethod
    def _add(score: Score, gold: GraphView, pred: GraphView, g_nodes: set[str], p_nodes: set[str],
             g_seq: Sequence[Any], p_seq: Sequence[Any]) -> None:
        score.nodes.add(g_nodes, p_nodes)
        score.edges.add(gold.edges, pred.edges)
        score.arg_names.add(gold.arg_names, pred.arg_names)
        score.arg_values.add(gold.arg_values, pred.arg_values)
        score.similarity.append(sequence_similarity(g_seq, p_seq))

    def result(self, rule: str = "strict") -> dict[str, Any]:
        """Metrics of a rule: overall at the top level, per sample type under ``by_type``."""
        scores = self.scores[rule]
        out = (scores.get("all") or Score()).to_dict()
        out["by_type"] = {k: s.to_dict() for k, s in sorted(scores.items()) if k != "all"}
        return out
