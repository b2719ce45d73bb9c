"""Training the learned tool detector (``learned.LearnedModel``) and measuring it with cross-validation.

One recipe serves every tool list: the TaskBench domains (their own tool names) and the product registry (our task
names, trained on TaskBench requests whose tools are our tasks under other names plus our own requests in
``planning/offline/data/requests.yaml`` and ``data/phrases.yaml``). It reads TaskBench through ``eval.tools`` and
``eval.data``, so it lives with the evaluation code, above the planner it trains.
``scripts/train_offline_planner.py`` is the command line over it.

The detector is one binary logistic regression (scikit-learn, L-BFGS) over (request, tool) pairs. A pair's features
are the request's hashed words and sentence embedding, each in the tool's own block (so every tool gets its own word
and embedding weights and bias), plus three features shared by all tools: the best cosine between any part of the
request (whole or a clause) and the tool's name and description, the best cosine to any of the tool's example
phrasings, and whether the rule-based planner picked the tool. Sharing those three weights lets a tool with few or
no labelled requests still be found. Planning uses the fitted weights in numpy (``LearnedModel.logits`` with
``pooling="request"``), so scikit-learn is needed to train, never to plan.
"""

from __future__ import annotations

import logging
import pickle
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import yaml
from scipy import sparse

from ..planning.base import PlanContext
from ..planning.offline.features import HASH_DIM, RequestFeatures, request_features
from ..planning.offline.learned import Embed, LearnedModel, Prototypes, ToolSig, embed_prototypes, select
from ..planning.offline.learned_path import registry_phrases
from ..planning.offline.tool_planner import LearnedToolPlanner, as_arguments
from ..planning.offline_planner import OfflinePlanner
from ..tasks import TaskRegistry
from .data import load_samples
from .tools import load_tools

log = logging.getLogger(__name__)

SHARED_SCALE = 10.0  # shared and bias columns are scaled up so the L2 penalty barely touches their weights


@dataclass(frozen=True)
class Example:
    """A labelled request: its tools in plan order and the links ``(source, target)`` between them (indices).

    ``phrase`` marks an example that is itself one of the tools' example phrasings: its own phrasing is hidden from
    the phrasing feature while training, or the feature would only learn to recognise itself."""

    text: str
    tools: tuple[str, ...]
    links: tuple[tuple[int, int], ...] = ()
    phrase: bool = False


def examples_from_samples(samples: Sequence[Any], rename: Callable[[str], str | None] = lambda n: n
                          ) -> list[Example]:
    """TaskBench samples (``eval.data.Sample``) as examples; ``rename`` maps a tool name onto a label (None: the
    tool has no label and is left out, with its links)."""
    out = []
    for s in samples:
        names = [rename(n.task) for n in s.nodes]
        keep = [i for i, n in enumerate(names) if n is not None]
        pos = {old: new for new, old in enumerate(keep)}
        links = []
        for i, node in enumerate(s.nodes):
            for a in node.arguments:
                if a.startswith("<node-") and a.endswith(">") and a[6:-1].isdigit():
                    j = int(a[6:-1])
                    if j != i and i in pos and j in pos:
                        links.append((pos[j], pos[i]))
        out.append(Example(s.instruction, tuple(str(names[i]) for i in keep), tuple(links)))
    return out


def phrase_examples(phrases: Mapping[str, Sequence[str]]) -> list[Example]:
    """Each example phrasing as a one-tool request."""
    return [Example(p, (name,), phrase=True) for name, ps in phrases.items() for p in ps]


def tool_sigs(tools: Sequence[Any]) -> list[ToolSig]:
    """A TaskBench tool list (``eval.tools.ToolSpec``) as the detector's tool signatures."""
    return [ToolSig(t.name, t.description, tuple(x.lower() for x in t.input_types),
                    tuple(x.lower() for x in t.output_types)) for t in tools]


def registry_sigs(registry: TaskRegistry) -> list[ToolSig]:
    """A task registry's tasks as the detector's tool signatures."""
    return [ToolSig(t.name, t.description, tuple(s.type for s in t.inputs), tuple(t.outputs)) for t in registry]


def read_all(texts: Sequence[str], embed: Embed | None, cache: Path | None = None) -> list[RequestFeatures]:
    """Every request's features, cached on disk between runs when ``cache`` is given (embedding is the slow
    part). The cache holds for the same texts read by the same parsing rules (lexicon and parser code)."""
    key = [_parsing_version(), *texts]
    if cache and cache.exists():
        saved = pickle.loads(cache.read_bytes())  # a cache this function wrote
        if saved[0] == key:
            return saved[1]
    out = [request_features(t, embed) for t in texts]
    if cache:
        cache.write_bytes(pickle.dumps((key, out)))
    return out


def _parsing_version() -> str:
    """A digest of what turns a request into features: the lexicon and the parsing and feature code."""
    import hashlib
    import inspect

    from ..planning.offline import features, text

    lexicon = resources.files("hugginggpt.planning.offline").joinpath("lexicon.yaml").read_text(encoding="utf-8")
    body = "\n".join([lexicon, inspect.getsource(text), inspect.getsource(features)])
    return hashlib.sha256(body.encode()).hexdigest()


def rule_tools(texts: Sequence[str], registry: TaskRegistry, sigs: Sequence[ToolSig],
               tool_name: Callable[[str], str] = lambda t: t) -> np.ndarray:
    """(requests, tools) 0/1: the tools the rule-based planner over ``registry`` puts in each request's plan."""
    rules = RuleTools(SimpleNamespace(registry=registry, tool_name=tool_name), sigs)
    return np.stack([rules.vector(t) for t in texts]) if texts else np.zeros((0, len(sigs)), np.float32)


def label_matrix(examples: Sequence[Example], names: Sequence[str]) -> np.ndarray:
    """(examples, tools) 0/1: which of ``names`` each example uses."""
    index = {n: i for i, n in enumerate(names)}
    y = np.zeros((len(examples), len(names)), dtype=np.float32)
    for r, ex in enumerate(examples):
        for n in ex.tools:
            if n in index:
                y[r, index[n]] = 1.0
    return y


def order_statistics(examples: Sequence[Example], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Edge counts source -> target and root counts (tools with no parent) over the examples' plans."""
    index = {n: i for i, n in enumerate(names)}
    edges = np.zeros((len(names), len(names)), dtype=np.float32)
    roots = np.zeros(len(names), dtype=np.float32)
    for ex in examples:
        at = [index.get(n, -1) for n in ex.tools]  # -1: a tool outside ``names``, not counted
        for j, i in ex.links:
            if at[j] >= 0 and at[i] >= 0:
                edges[at[j], at[i]] += 1
        fed = {i for _, i in ex.links}
        for i, k in enumerate(at):
            if i not in fed and k >= 0:
                roots[k] += 1
    return edges, roots


def similarity_features(read: Sequence[RequestFeatures], examples: Sequence[Example], sigs: Sequence[ToolSig],
                        protos: Prototypes) -> tuple[np.ndarray, np.ndarray]:
    """(requests, tools) best cosine of any row of each request to each tool's name and description, and to any
    of its example phrasings (an example's own phrasing hidden, see ``Example``)."""
    tool_rows = protos.tool_rows()
    cos = np.zeros((len(read), len(sigs)), dtype=np.float32)
    best = np.zeros_like(cos)
    for r, (f, ex) in enumerate(zip(read, examples, strict=True)):
        assert f.embedded is not None, "training needs the sentence embedder"
        cos[r] = (f.embedded @ tool_rows.T).max(axis=0)
        sims = f.embedded @ protos.emb.T
        if ex.phrase:
            own = np.flatnonzero(np.all(np.isclose(protos.emb, f.embedded[0], atol=1e-5), axis=1))
            sims[:, own] = -1.0
        best[r] = np.maximum.reduceat(sims, protos.starts, axis=1).max(axis=0)
    return cos, best


def design(read: Sequence[RequestFeatures], cos: np.ndarray, best: np.ndarray, rules: np.ndarray
           ) -> sparse.csr_matrix:
    """The (request, tool) pair matrix, rows request-major: ``[hashed in block t | embedded in block t | one-hot t
    | cos | phrasing | rule]`` (see the module docstring)."""
    n, t = cos.shape
    h = sparse.csr_matrix(np.stack([f.hashed[0] for f in read]))
    e = np.stack([np.asarray(f.embedded)[0] for f in read])
    d = e.shape[1]
    eye = sparse.identity(t, format="csr")
    blocks_h = sparse.kron(h, eye, format="csr")  # row r*t + k holds h[r] in columns j*t + k
    blocks_e = sparse.kron(sparse.csr_matrix(e), eye, format="csr")
    bias = sparse.kron(np.ones((n, 1)), eye * SHARED_SCALE, format="csr")
    shared = sparse.csr_matrix(SHARED_SCALE * np.stack([cos.ravel(), best.ravel(), rules.ravel()], axis=1))
    out = sparse.hstack([blocks_h, blocks_e, bias, shared], format="csr")
    assert out.shape == (n * t, HASH_DIM * t + d * t + t + 3)
    return out


@dataclass
class TrainingSet:
    """Examples with everything the fit needs, read once (folds are row subsets of it)."""

    examples: list[Example]
    read: list[RequestFeatures]
    rules: np.ndarray  # (examples, tools)
    sigs: list[ToolSig]
    protos: Prototypes

    @classmethod
    def build(cls, examples: Sequence[Example], sigs: Sequence[ToolSig], embed: Embed, rules: np.ndarray,
              phrases: dict[str, tuple[str, ...]], read: Sequence[RequestFeatures] | None = None) -> TrainingSet:
        protos = embed_prototypes(sigs, embed, phrases)
        assert protos is not None
        read = list(read) if read is not None else read_all([ex.text for ex in examples], embed)
        return cls(list(examples), read, rules, list(sigs), protos)

    def subset(self, rows: Sequence[int]) -> TrainingSet:
        return TrainingSet([self.examples[i] for i in rows], [self.read[i] for i in rows], self.rules[list(rows)],
                           self.sigs, self.protos)


def fit_classifier(data: TrainingSet, c: float = 1.0, max_iter: int = 2000) -> tuple[Any, sparse.csr_matrix]:
    """The fitted scikit-learn classifier over ``data``'s (request, tool) pairs, and the pair matrix."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    y = label_matrix(data.examples, [s.name for s in data.sigs])
    cos, best = similarity_features(data.read, data.examples, data.sigs, data.protos)
    x = design(data.read, cos, best, data.rules)
    clf = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter, tol=1e-5)
    # One BLAS thread: the sparse problem gains nothing from more, and on a busy machine extra threads that spin
    # waiting for each other made a toy fit take minutes instead of a second.
    with threadpool_limits(limits=1):
        clf.fit(x, y.ravel())
    return clf, x


def fit(data: TrainingSet, domain: str, *, c: float = 1.0, threshold: float = 0.3, combine: str = "replace",
        max_iter: int = 2000) -> LearnedModel:
    """Fit the detector and the order statistics (see the module docstring); ``c`` is scikit-learn's inverse L2
    strength. The model keeps the classifier's coefficients only: planning needs numpy alone."""
    names = [s.name for s in data.sigs]
    t = len(names)
    clf, x = fit_classifier(data, c, max_iter)
    w = clf.coef_[0]
    d = (x.shape[1] - 3) // t - HASH_DIM - 1  # embedding width
    wh = w[: HASH_DIM * t].reshape(HASH_DIM, t)
    we = w[HASH_DIM * t : (HASH_DIM + d) * t].reshape(d, t)
    b = SHARED_SCALE * w[(HASH_DIM + d) * t : (HASH_DIM + d + 1) * t] + clf.intercept_[0]
    alpha, gamma, beta = SHARED_SCALE * w[-3:]
    edges, roots = order_statistics(data.examples, names)
    return LearnedModel(names, wh.astype(np.float32), we.astype(np.float32), b.astype(np.float32), float(alpha),
                        threshold, edges, roots, domain, np.full(t, beta, dtype=np.float32), tuple(data.sigs),
                        float(gamma), pooling="request", combine=combine)


def fit_pooled(data: TrainingSet, domain: str, *, l2: float = 1e-3, threshold: float = 0.25,
               optimizer: str = "adam", max_iter: int = 400) -> LearnedModel:
    """The clause-pooled detector (``pooling="clauses"``, the TaskBench models): each clause scores each tool
    linearly, a request's score is the log-sum-exp over its clauses plus ``beta[tool]`` when the rules picked the
    tool; mean logistic loss plus ``l2``/2 on the word and embedding weights. The pooling is not a model
    scikit-learn fits, so the loss and its gradient are written here. ``optimizer="adam"`` (the shipped models):
    ``max_iter`` Adam steps of 0.05 from the start below, whose early stop regularises; ``"lbfgs"``: SciPy's
    L-BFGS-B, which lost 6 points of edge F1 in 5-fold CV on huggingface dev (docs/evaluation.md), so it is kept
    only to compare."""
    from scipy.optimize import minimize

    names = [s.name for s in data.sigs]
    n, t = len(data.examples), len(names)
    y = label_matrix(data.examples, names)
    h = np.concatenate([f.hashed[1:] for f in data.read])
    e = np.concatenate([np.asarray(f.embedded)[1:] for f in data.read])
    z = e @ data.protos.tool_rows().T
    zp = data.protos.scores(e)
    seg = np.concatenate([np.full(len(f.spans), i) for i, f in enumerate(data.read)])
    kw = data.rules
    shapes = {"wh": (HASH_DIM, t), "we": (e.shape[1], t), "b": (t,), "beta": (t,), "alpha": (), "gamma": ()}
    sizes = [int(np.prod(v)) for v in shapes.values()]

    def unpack(theta: np.ndarray) -> dict[str, np.ndarray]:
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        return {k: p.reshape(shape) for (k, shape), p in zip(shapes.items(), parts, strict=True)}

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = unpack(theta)
        clause = h @ p["wh"] + e @ p["we"] + p["b"] + p["alpha"] * z + p["gamma"] * zp
        top = np.full((n, t), -np.inf)
        np.maximum.at(top, seg, clause)
        w = np.exp(clause - top[seg])
        total = np.zeros_like(top)
        np.add.at(total, seg, w)
        logit = top + np.log(total) + p["beta"] * kw
        value = float(np.mean(np.sum(np.logaddexp(0, logit) - y * logit, axis=1)))
        value += 0.5 * l2 * float((p["wh"] ** 2).sum() + (p["we"] ** 2).sum())
        g_req = (1.0 / (1.0 + np.exp(-logit)) - y) / n
        g = g_req[seg] * (w / total[seg])
        grads = {"wh": h.T @ g + l2 * p["wh"], "we": e.T @ g + l2 * p["we"], "b": g.sum(0),
                 "beta": (g_req * kw).sum(0), "alpha": np.array((g * z).sum()), "gamma": np.array((g * zp).sum())}
        return value, np.concatenate([grads[k].ravel() for k in shapes])

    start = {"wh": np.zeros(shapes["wh"]), "we": np.zeros(shapes["we"]), "b": np.full(t, -2.0),
             "beta": np.ones(t), "alpha": np.array(5.0), "gamma": np.array(5.0)}
    theta0 = np.concatenate([start[k].ravel() for k in shapes])
    with _one_thread():
        if optimizer == "lbfgs":
            theta = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter}).x
        else:
            theta = _adam(loss, theta0, steps=max_iter)
    p = unpack(theta)
    edges, roots = order_statistics(data.examples, names)
    return LearnedModel(names, p["wh"].astype(np.float32), p["we"].astype(np.float32), p["b"].astype(np.float32),
                        float(p["alpha"]), threshold, edges, roots, domain, p["beta"].astype(np.float32),
                        tuple(data.sigs), float(p["gamma"]), pooling="clauses", combine="replace")


def fit_blended(data: TrainingSet, domain: str, *, blend: float, l2: float = 1e-3, threshold: float = 0.25,
                c: float = 1.0, max_iter: int = 400) -> LearnedModel:
    """The clause-pooled model (``fit_pooled``) with the pair model (``fit``) as its companion: each tool's
    probability is ``(1 - blend)`` of the first's plus ``blend`` of the second's, and the clause places stay the
    first's. Chosen by 5-fold CV on dev (docs/evaluation.md)."""
    model = fit_pooled(data, domain, l2=l2, threshold=threshold, max_iter=max_iter)
    model.companion = fit(data, domain, c=c, threshold=threshold, combine="blend")
    model.blend = blend
    return model


def _adam(loss: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray, *, steps: int,
          lr: float = 0.05) -> np.ndarray:
    """Adam (beta 0.9 / 0.999) for a fixed number of full-batch steps."""
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for step in range(1, steps + 1):
        _, g = loss(theta)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        theta = theta - lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return theta


def _one_thread() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


Planned = list[tuple[str, list[str]]]  # TaskBench-style nodes: tool name and arguments


def plan_all(model: LearnedModel, data: TrainingSet, embed: Embed,
             phrases: dict[str, tuple[str, ...]] | None = None) -> tuple[list[Planned], list[float]]:
    """Plan every request of ``data`` with ``model``: TaskBench-style nodes and seconds per request."""
    planner = LearnedToolPlanner(model, data.sigs, embed, phrases)
    out, secs = [], []
    for f, k in zip(data.read, data.rules, strict=True):
        t0 = time.perf_counter()
        out.append(as_arguments(planner.plan_features(f, k)))
        secs.append(time.perf_counter() - t0)
    return out, secs


def cross_validate(data: TrainingSet, folds: int, fitter: Callable[[TrainingSet], LearnedModel], *,
                   embed: Embed, phrases: dict[str, tuple[str, ...]] | None = None,
                   held: Callable[[Example], bool] = lambda ex: True) -> tuple[list[Any], list[float]]:
    """Plans for each request ``held`` selects, by a model ``fitter`` fits on the other folds (request i is in fold
    i mod ``folds``); the rest always train. Returns the plans (None for requests not held) and seconds."""
    planned: list[Any] = [None] * len(data.examples)
    secs: list[float] = []
    for k in range(folds):
        test = [i for i, ex in enumerate(data.examples) if i % folds == k and held(ex)]
        train = [i for i in range(len(data.examples)) if i not in set(test)]
        model = fitter(data.subset(train))
        out, sc = plan_all(model, data.subset(test), embed, phrases)
        secs += sc
        for i, nodes in zip(test, out, strict=True):
            planned[i] = nodes
    return planned, secs


def confusions(gold: Sequence[set[str]], pred: Sequence[set[str]], top: int = 6) -> list[tuple[str, str, int]]:
    """Most frequent (missed gold tool, spurious predicted tool) pairs within a request; "-" for none."""
    pairs: Counter[tuple[str, str]] = Counter()
    for g, p in zip(gold, pred, strict=True):
        for a in sorted(g - p) or ["-"]:
            for b in sorted(p - g) or ["-"]:
                if (a, b) != ("-", "-"):
                    pairs[(a, b)] += 1
    return [(a, b, c) for (a, b), c in pairs.most_common(top)]


def node_scores(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> dict[str, float]:
    """Micro node precision, recall and F1 over tool sets, and the share of requests whose set is exact."""
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, pred, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, pred, strict=True))
    exact = sum(g == p for g, p in zip(gold, pred, strict=True))
    return {"precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn), "f1": 2 * tp / max(1, 2 * tp + fp + fn),
            "exact": exact / max(1, len(gold))}


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


class RuleTools:
    """The tools the rule-based offline planner puts in a request's plan, as a 0/1 vector over ``tools``.

    ``binding`` is an ``eval.tools.ToolBinding``-like object: ``registry`` to plan over and ``tool_name`` to map
    planned task names back to tool names.
    """

    def __init__(self, binding, tools: Sequence[ToolSig]) -> None:
        self.binding = binding
        self.index = {t.name: i for i, t in enumerate(tools)}
        self.planner = OfflinePlanner(registry=binding.registry, learned=False)

    def vector(self, text: str) -> np.ndarray:
        v = np.zeros(len(self.index), dtype=np.float32)
        try:
            plan = self.planner.plan(text, PlanContext(registry=self.binding.registry)).plan
        except Exception:  # noqa: BLE001 - a request the rules cannot plan gives no rule evidence
            return v
        for t in plan.tasks:
            i = self.index.get(self.binding.tool_name(t.task))
            if i is not None:
                v[i] = 1.0
        return v


# -- training data ------------------------------------------------------------------------------------------------
TASKBENCH_DOMAINS = ("huggingface", "multimedia")


def taskbench_examples(data_dir: Path, domain: str, rename: Callable[[str], str | None] | None = None
                       ) -> tuple[Any, list[Any], list[Example]]:
    """A TaskBench domain's tool list, its dev samples and those as examples (tool names kept, or mapped by
    ``rename``)."""
    tools = load_tools(data_dir / f"data_{domain}" / "tool_desc.json")
    samples, _ = load_samples(data_dir / f"{domain}_dev.jsonl", tools)
    return tools, samples, examples_from_samples(samples, rename or (lambda n: n))


def load_requests() -> list[Example]:
    """Our own labelled training requests (``data/requests.yaml``)."""
    text = resources.files("hugginggpt.planning.offline").joinpath("data", "requests.yaml").read_text(encoding="utf-8")
    return [Example(str(r["request"]), tuple(str(t) for t in r["tasks"])) for r in yaml.safe_load(text) or []]


def product_examples(data_dir: Path, registry: TaskRegistry, phrases: dict[str, tuple[str, ...]]
                     ) -> list[Example]:
    """The product model's training requests: TaskBench dev requests whose tools are our tasks under other names
    (tools with no task of ours are left out of their plans), our own requests, and every example phrasing."""
    examples: list[Example] = []
    for domain in TASKBENCH_DOMAINS:
        if (data_dir / f"{domain}_dev.jsonl").exists():
            examples += taskbench_examples(data_dir, domain, registry.canonical)[2]
    return examples + load_requests() + phrase_examples(registry_phrases(registry, phrases))


# -- scoring tool choices and other encoders (the detector experiments) ---------------------------------------------
def node_f1(chosen: np.ndarray, y: np.ndarray) -> float:
    """Micro F1 of 0/1 tool choices (requests, tools) against the gold ones."""
    tp = float((chosen * y).sum())
    fp = float((chosen * (1 - y)).sum())
    fn = float(((1 - chosen) * y).sum())
    return 2 * tp / max(1.0, 2 * tp + fp + fn)


def at_threshold(probs: np.ndarray, t: float) -> np.ndarray:
    """Tools at or above ``t``, the best one when none is: the planner's own rule (``learned.select``) per request."""
    chosen = np.zeros_like(probs)
    for r, p in enumerate(probs):
        chosen[r, select(p, t)] = 1.0
    return chosen


def oracle_k(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each request's top-k tools with k its true number of tools (an upper bound for any threshold)."""
    chosen = np.zeros_like(probs)
    for r in range(len(probs)):
        chosen[r, np.argsort(-probs[r])[: int(y[r].sum())]] = 1.0
    return chosen


def sentence_encoder(folder: Path) -> Embed:
    """An ``embed`` function over any sentence-transformers model folder (unit vectors), for encoder comparisons."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), batch_size=32, normalize_embeddings=True))

    return embed
