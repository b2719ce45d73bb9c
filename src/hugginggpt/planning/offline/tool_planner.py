"""The learned planning path: detect tools with a ``LearnedModel``, order and connect them with ``assemble``.

``LearnedToolPlanner`` works on a tool list (``ToolSig``: names, descriptions, input and output types) and returns
TaskBench-style nodes; the offline planner maps them onto its registry. Everything per tool list (re-indexed
weights, tool embeddings) is computed once in the constructor, so one request costs one batch of sentence
embeddings (the request and its clauses) and a few small matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .assemble import PlannedNode, connect, order, unfed
from .features import RequestFeatures, request_features
from .learned import Embed, LearnedModel, Prototypes, ToolSig, embed_prototypes, embed_tools, select, sigmoid
from .text import ParsedRequest


class LearnedToolPlanner:
    """Plans a request over ``tools`` with ``model``; ``embed`` is the sentence embedder (required); ``phrases``
    are the tools' example phrasings (``data/phrases.yaml`` by tool name when None), ``protos`` the same already
    embedded (shared between planners)."""

    def __init__(self, model: LearnedModel, tools: Sequence[ToolSig], embed: Embed,
                 phrases: dict[str, tuple[str, ...]] | None = None, protos: Prototypes | None = None) -> None:
        self.model = model
        self.tools = list(tools)
        self.embed = embed
        self.wh, self.we, self.b, self.edges, self.roots, self.beta = model.columns([t.name for t in self.tools])
        if protos is None and model.gamma:
            protos = embed_prototypes(self.tools, embed, phrases)
        self.protos = protos if model.gamma else None
        self.tool_emb = self.protos.tool_rows() if self.protos is not None else embed_tools(self.tools, embed)
        companion = model.companion if model.blend > 0 else None
        self.companion = (LearnedToolPlanner(companion, tools, embed, phrases, protos=protos)
                          if companion is not None else None)

    def probabilities(self, feats: RequestFeatures, rules: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Per-tool probabilities for the request and clause-level logits; ``rules`` marks the tools the
        rule-based planner picked (one 0/1 entry per tool)."""
        request, clauses = self.model.logits(feats, self.tool_emb, self.wh, self.we, self.b, self.protos)
        if rules is not None:
            request = request + self.beta * rules
        probs = sigmoid(request)
        if self.companion is not None:
            other, _ = self.companion.probabilities(feats, rules)
            probs = (1.0 - self.model.blend) * probs + self.model.blend * other
        return probs, clauses

    def plan(self, text: str, parsed: ParsedRequest | None = None, rules: np.ndarray | None = None
             ) -> list[PlannedNode]:
        """TaskBench-style nodes for ``text`` (at least one node)."""
        return self.plan_features(request_features(text, self.embed, parsed), rules)

    def plan_features(self, feats: RequestFeatures, rules: np.ndarray | None = None) -> list[PlannedNode]:
        """``plan`` for a request already read by ``features.request_features``."""
        probs, clauses = self.probabilities(feats, rules)
        chosen = select(probs, self.model.threshold)
        where = {i: int(np.argmax(clauses[:, i])) for i in chosen}
        while True:
            places = [where[i] + 1e-3 * (1.0 - float(probs[i])) for i in chosen]
            sequence = order(chosen, places, self.tools, self.edges, self.roots)
            spans = [feats.spans[where[i]] for i in sequence]
            nodes = connect(sequence, spans, self.tools, feats.parsed)
            # A tool that would read a media file nobody gave or made was detected by mistake: drop it, replan.
            drop = set(unfed(nodes, sequence, self.tools, feats.parsed))
            if not drop or len(drop) == len(chosen):
                return nodes
            chosen = [i for i in chosen if i not in drop]


def as_arguments(nodes: Sequence[PlannedNode]) -> list[tuple[str, list[str]]]:
    """Nodes with references written the TaskBench way (``<node-j>``)."""
    return [(n.tool, [f"<node-{a[1]}>" if isinstance(a, tuple) else a for a in n.args]) for n in nodes]
