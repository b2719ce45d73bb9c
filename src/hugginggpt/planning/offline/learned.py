"""The learned tool detector: a multi-label linear model over request features, trained on labelled requests.

Each tool t scores a clause as ``hashed·Wh[:, t] + embedded·We[:, t] + b[t] + alpha·cos(text, tool t) +
gamma·max_p cos(text, phrasing p of t)``: hashed words, the MiniLM sentence embedding, the similarity to the tool's
own name and description, and the best similarity to its example phrasings (``data/phrases.yaml``); the last two
let a tool with few or no labelled examples still be found. The request's score is the log-sum-exp of its
clauses' scores (a request asks for a tool when one of its clauses does) plus ``beta[t]`` when the rule-based
planner picked the tool. A tool is asked for when its request probability passes the threshold chosen by
cross-validation (the best tool when none does). Each tool's place in the request is the clause that scores it
highest; ``assemble`` turns tools and places into a graph. A TaskBench model may have a companion
(``data/<domain>.companion.npz``, scored over the whole request instead of its clauses) whose probabilities are
mixed in with weight ``blend``; the clause places stay the primary model's.

The weights are data (``data/<domain>.npz``), written by ``scripts/train_offline_planner.py``; ``load_models``
finds the shipped ones. A model applies to a tool list when it knows most of its tools.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .features import EMBED_DIM, HASH_DIM, RequestFeatures, tool_text

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
MIN_COVERAGE = 0.8  # share of a tool list's tools a model must know to be used for it


@dataclass(frozen=True)
class ToolSig:
    """A tool as the learned planner sees it: name, description, typed inputs and outputs (lower case)."""

    name: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass
class LearnedModel:
    """Weights of the detector plus the tool-order statistics (see the module docstring)."""

    labels: list[str]
    wh: np.ndarray  # (HASH_DIM, T)
    we: np.ndarray  # (EMBED_DIM, T)
    b: np.ndarray  # (T,)
    alpha: float
    threshold: float
    edges: np.ndarray  # (T, T) edge counts source -> target in the training plans
    roots: np.ndarray  # (T,) how often a tool starts a plan
    domain: str = ""
    beta: np.ndarray | None = None  # (T,) weight of "the rule-based planner picked this tool"
    tools: tuple[ToolSig, ...] = ()  # the tool list it was trained on (types used to connect the tools)
    gamma: float = 0.0  # weight of the best similarity to the tool's example phrasings (``data/phrases.yaml``)
    # "clauses": the request scores a tool by log-sum-exp over its clauses' scores (the first recipe);
    # "request": by the whole request's words and embedding plus the best similarities over all its parts
    # (``training.fit``).
    pooling: str = "clauses"
    # "replace": the model plans the whole graph (TaskBench tool lists); "add": its tools join the rules'
    # detections and the rules build the graph (the product registry, ``learned_path.LearnedPath.detections``);
    # "blend": a companion, whose probabilities are mixed into those of the "replace" model of its domain.
    combine: str = "replace"
    # The companion's share of each tool's probability (``load_models`` attaches the companion).
    blend: float = 0.0
    companion: LearnedModel | None = field(default=None, repr=False, compare=False)

    def save(self, path: str | Path) -> None:
        """Write the model as a compressed ``.npz`` (float16 weights keep it small)."""
        np.savez_compressed(
            path, labels=np.array(self.labels), wh=self.wh.astype(np.float16), we=self.we.astype(np.float16),
            b=self.b.astype(np.float32), alpha=np.float32(self.alpha), threshold=np.float32(self.threshold),
            edges=self.edges.astype(np.float32), roots=self.roots.astype(np.float32), domain=np.array(self.domain),
            beta=np.zeros(len(self.labels), np.float32) if self.beta is None else self.beta.astype(np.float32),
            gamma=np.float32(self.gamma), pooling=np.array(self.pooling), combine=np.array(self.combine),
            blend=np.float32(self.blend),
            tools=np.array(json.dumps([[t.name, t.description, list(t.inputs), list(t.outputs)] for t in self.tools])))

    @classmethod
    def load(cls, path) -> LearnedModel:
        """Read a model written by ``save``; raises ``ValueError`` on a file of the wrong shape."""
        with np.load(path, allow_pickle=False) as z:
            model = cls(labels=[str(x) for x in z["labels"]], wh=z["wh"].astype(np.float32),
                        we=z["we"].astype(np.float32), b=z["b"], alpha=float(z["alpha"]),
                        threshold=float(z["threshold"]), edges=z["edges"], roots=z["roots"],
                        domain=str(z["domain"]), beta=z["beta"].astype(np.float32),
                        tools=tuple(ToolSig(n, d, tuple(i), tuple(o)) for n, d, i, o in json.loads(str(z["tools"]))),
                        gamma=float(z["gamma"]) if "gamma" in z.files else 0.0,
                        pooling=str(z["pooling"]) if "pooling" in z.files else "clauses",
                        combine=str(z["combine"]) if "combine" in z.files else "replace",
                        blend=float(z["blend"]) if "blend" in z.files else 0.0)
        t = len(model.labels)
        if model.wh.shape != (HASH_DIM, t) or model.we.shape != (EMBED_DIM, t) or model.edges.shape != (t, t):
            raise ValueError(f"{path}: weights do not match {t} labels")
        if model.pooling not in ("clauses", "request") or model.combine not in ("replace", "add", "blend"):
            raise ValueError(f"{path}: unknown pooling {model.pooling!r} or combine {model.combine!r}")
        return model

    def coverage(self, names: Sequence[str]) -> float:
        """Share of ``names`` this model has weights for."""
        known = set(self.labels)
        return sum(n in known for n in names) / max(1, len(names))

    # -- scoring --------------------------------------------------------------------------------------------
    def columns(self, names: Sequence[str]) -> tuple[np.ndarray, ...]:
        """Weights, bias, order statistics and rule weights re-indexed to ``names`` (unknown tools: zero weights,
        mean bias)."""
        index = {n: i for i, n in enumerate(self.labels)}
        cols = [index.get(n, -1) for n in names]
        known = np.array([c >= 0 for c in cols])
        pick = np.array([max(c, 0) for c in cols])
        wh = np.where(known, self.wh[:, pick], 0.0)
        we = np.where(known, self.we[:, pick], 0.0)
        b = np.where(known, self.b[pick], float(np.mean(self.b)))
        edges = np.where(known[:, None] & known[None, :], self.edges[np.ix_(pick, pick)], 0.0)
        roots = np.where(known, self.roots[pick], 0.0)
        beta = np.where(known, (self.beta if self.beta is not None else np.zeros(len(self.labels)))[pick], 0.0)
        return wh, we, b, edges, roots, beta

    def logits(self, feats: RequestFeatures, tool_emb: np.ndarray | None, wh: np.ndarray, we: np.ndarray,
               b: np.ndarray, protos: Prototypes | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Request-level logits (T,) and clause-level logits (clauses, T)."""
        z = feats.hashed @ wh + b
        sims = np.zeros_like(z)
        if feats.embedded is not None:
            z = z + feats.embedded @ we
            if tool_emb is not None:
                cos = feats.embedded @ tool_emb.T
                sims = sims + self.alpha * cos
            if protos is not None and self.gamma:
                best = protos.scores(feats.embedded)
                sims = sims + self.gamma * best
        if self.pooling == "request":
            # The whole request's words and embedding, plus the best similarity of any of its parts (as trained).
            request = z[0].copy()
            if feats.embedded is not None and tool_emb is not None:
                request += self.alpha * cos.max(axis=0)
            if feats.embedded is not None and protos is not None and self.gamma:
                request += self.gamma * best.max(axis=0)
            return request, (z + sims)[1:]
        z = z + sims
        # A request asks for a tool when one of its clauses does: log-sum-exp pooling over the clauses.
        clauses = z[1:]
        top = clauses.max(axis=0)
        request = top + np.log(np.exp(clauses - top).sum(axis=0))
        return request, clauses


def select(probs: np.ndarray, threshold: float) -> list[int]:
    """Indices of the tools whose probability passes ``threshold``; the best one when none does."""
    chosen = [int(i) for i in np.flatnonzero(probs >= threshold)]
    return chosen or [int(np.argmax(probs))]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@lru_cache(maxsize=1)
def load_models() -> tuple[LearnedModel, ...]:
    """The models shipped in ``data/`` (none when the folder or numpy data is missing)."""
    out = []
    try:
        folder = resources.files(__package__).joinpath("data")
        entries = sorted(folder.iterdir(), key=lambda p: p.name) if folder.is_dir() else []
    except (FileNotFoundError, ModuleNotFoundError):
        entries = []
    for entry in entries:
        if not entry.name.endswith(".npz"):
            continue
        try:
            with resources.as_file(entry) as path:
                out.append(LearnedModel.load(path))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("skipping the planner model %s: %s", entry.name, exc)
    return attach_companions(out)


def attach_companions(models: Sequence[LearnedModel]) -> tuple[LearnedModel, ...]:
    """The models that plan, each "replace" model with its domain's "blend" companion attached (a companion
    whose model is missing, or a model whose companion is, plans alone)."""
    companions = {m.domain: m for m in models if m.combine == "blend"}
    out = []
    for m in models:
        if m.combine == "blend":
            continue
        if m.combine == "replace" and m.blend > 0 and m.domain in companions:
            m.companion = companions[m.domain]
        out.append(m)
    return tuple(out)


@dataclass(frozen=True)
class Prototypes:
    """Embedded example phrasings of each tool: ``emb`` (P, D) unit rows, ``owner`` (P,) the tool of each row,
    sorted by tool, every tool owning at least one row (its name and description)."""

    emb: np.ndarray
    owner: np.ndarray
    starts: np.ndarray  # (T,) each tool's first row: its name and description

    def tool_rows(self) -> np.ndarray:
        """(T, D): the name-and-description embedding of each tool (what ``embed_tools`` gives)."""
        return self.emb[self.starts]

    def scores(self, embedded: np.ndarray) -> np.ndarray:
        """(rows, T): each row's best cosine to any phrasing of each tool."""
        return np.maximum.reduceat(embedded @ self.emb.T, self.starts, axis=1)


@lru_cache(maxsize=1)
def load_phrases() -> dict[str, tuple[str, ...]]:
    """Tool name -> example phrasings, from ``data/phrases.yaml`` (empty when the file is missing)."""
    import yaml

    try:
        text = resources.files(__package__).joinpath("data", "phrases.yaml").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
    data = yaml.safe_load(text) or {}
    return {str(k): tuple(str(p) for p in v or ()) for k, v in data.items()}


def embed_prototypes(tools: Sequence[ToolSig], embed: Embed | None,
                     phrases: dict[str, tuple[str, ...]] | None = None) -> Prototypes | None:
    """Every tool's name and description plus its example phrasings, embedded (None without an embedder)."""
    if embed is None:
        return None
    phrases = load_phrases() if phrases is None else phrases
    texts, owner = [], []
    for i, t in enumerate(tools):
        for text in (tool_text(t.name, t.description), *phrases.get(t.name, ())):
            texts.append(text)
            owner.append(i)
    owners = np.array(owner)
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    return Prototypes(np.asarray(embed(texts), dtype=np.float32), owners, starts)


def embed_tools(tools: Sequence[ToolSig], embed: Embed | None) -> np.ndarray | None:
    """Unit embeddings of the tools' names and descriptions (None without an embedder)."""
    if embed is None:
        return None
    return np.asarray(embed([tool_text(t.name, t.description) for t in tools]), dtype=np.float32)
