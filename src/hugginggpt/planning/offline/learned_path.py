"""The offline planner's learned path: a shipped model that knows the registry's tools works with the rules.

A model applies to a registry when at least ``learned.MIN_COVERAGE`` of the registry's tasks map onto tools the
model was trained on (a task maps by its own name or its ``taskbench`` aliases); on a tie the model trained on that
very tool list wins. Two ways of working together, fixed by the model (``LearnedModel.combine``):

- ``"add"`` (the product model, trained on our task names): the rules detect and build the graph; the learned
  detector adds the tasks it is confident of that the rules did not find (``LearnedPath.detections``), so the
  rules keep priority for what they detect and the learned tasks are connected and filled by the same graph
  builder;
- ``"replace"`` (a model trained on a TaskBench tool list): the learned detector, which weighs the rules' choice of
  tasks as a feature, plans the whole graph (``LearnedPath.plan``).

Without the embedder or the model files the rules plan everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ...plan_schema import gen
from ...tasks import TaskRegistry, TaskType
from .assemble import PlannedNode
from .detect import CONTROLLED, Available, Detection
from .features import request_features
from .given_maps import names_only_a_map
from .learned import Embed, LearnedModel, Prototypes, ToolSig, embed_prototypes, load_phrases
from .lexicon import pattern
from .text import ParsedRequest, media_of_resource

log = logging.getLogger(__name__)
_MEDIA = ("image", "audio", "video")
# An added task whose clause already holds one of the rules' tasks needs this probability: there the rules have
# read the words, and a second task for the same words is more often a near-synonym than a new request.
SHARED_CLAUSE_THRESHOLD = 0.8
# When the rules found no task at all, the detector's best task is added from this probability on: the request was
# not chit-chat for the detector, and its probabilities are spread thin over 38 tasks.
ALONE_THRESHOLD = 0.15
# Tasks the detector adds only when the rules found none: free writing is its catch-all for any words about a text
# ("2. summarise the transcript -> short summary": the summary was asked for, no piece of writing beside it).
ONLY_ALONE = frozenset({"text-generation"})
# Tasks that do the same job for one text: never added beside each other ("is this review positive, negative or
# mixed?": the rules' labels already classify it).
SAME_JOB = ({"text-classification", "zero-shot-classification"},)


@lru_cache(maxsize=1)
def _embedder():
    from .features import load_embedder

    return load_embedder()


def label_map(registry: TaskRegistry, labels: Sequence[str]) -> dict[str, str]:
    """Registry task -> the model's tool name, for the tasks that have one (first fitting alias wins)."""
    known = set(labels)
    out: dict[str, str] = {}
    taken: set[str] = set()
    for t in registry:
        for name in [t.name, *t.taskbench]:
            if name in known and name not in taken:
                out[t.name] = name
                taken.add(name)
                break
    return out


class LearnedPath:
    """The learned planner bound to one registry (see the module docstring)."""

    def __init__(self, registry: TaskRegistry, model: LearnedModel, embed) -> None:
        from .tool_planner import LearnedToolPlanner

        self.registry = registry
        self.model = model
        self.task_of = {label: task for task, label in label_map(registry, model.labels).items()}
        trained = {t.name: t for t in model.tools}
        sigs = []
        for t in registry:
            label = next((lab for lab, task in self.task_of.items() if task == t.name), None)
            sigs.append(trained[label] if label in trained else _sig(t))
        self.sigs = sigs
        phrases = registry_phrases(registry, load_phrases()) if model.combine == "add" else None
        self.planner = LearnedToolPlanner(model, sigs, embed, phrases, protos=_prototypes(tuple(sigs), phrases, embed))

    @property
    def adds(self) -> bool:
        """True when the learned tasks join the rules' detections (the product model), False when it plans alone."""
        return self.model.combine == "add"

    @classmethod
    def for_registry(cls, registry: TaskRegistry, models: Sequence[LearnedModel] | None = None
                     ) -> LearnedPath | None:
        """The learned path for ``registry``, or None when no model fits it or the embedder is missing."""
        model = choose_model(registry, models)
        if model is None:
            return None
        embed = _embedder()
        if embed is None:
            return None
        return cls(registry, model, embed)

    def detections(self, text: str, parsed: ParsedRequest, found: Sequence[Detection], available: Available
                   ) -> list[Detection]:
        """Tasks the learned detector is confident ``text`` asks for that the rules' detections ``found`` lack.

        With no task from the rules, the best task needs only ``ALONE_THRESHOLD``. Each sits in the clause that
        scores it highest: at the clause's start when the rules found nothing there
        (the clause's words are its text argument), else after the rules' tasks of that clause (it then reads
        their output). A task whose media input nothing in the request, the attachments or another task can give
        is left out: the detector guessed from words alone.
        """
        social = (pattern("parsing", "social_opening").match(text)
                  or pattern("questions", "about_assistant").search(text)
                  or (not parsed.quotes and pattern("parsing", "concept_question").search(parsed.masked)))
        if social and not (found or parsed.resources or available.user_media):
            # "THANK YOU SOOOO MUCH!!!! my brother loved the dragon story", "This is to acknowledge receipt of the
            # translated summary", "you can speak Chinese or only English?": thanks, a greeting, an acknowledgement or
            # a question about the assistant that names no file and asks the rules for nothing gets no task from the
            # detector either (it would guess one from the words the message mentions)
            return []
        feats = request_features(text, self.planner.embed, parsed)
        ruled = {d.task for d in found}
        probs, clauses = self.planner.probabilities(feats, self.rule_vector(sorted(ruled)))
        threshold = self.model.threshold
        media = set(available.user_media | available.history_media)
        media |= {r.media for r in parsed.resources if not r.output}
        tasks = [self.task_of.get(s.name, s.name) for s in self.sigs]
        media |= {m for d in found for m in self.registry.get(d.task).outputs}
        out: list[Detection] = []
        for rank, i in enumerate(np.argsort(-probs)):
            task = tasks[i]
            alone = not found and rank == 0 and probs[i] >= ALONE_THRESHOLD
            if (probs[i] < threshold and not alone) or task in ruled or task not in self.registry:
                continue
            if (task in ONLY_ALONE and found) or any(task in job and job & ruled for job in SAME_JOB):
                continue
            if CONTROLLED.get(task) in ruled:
                continue  # the rules guide generation by a map the user gave: nothing extracts one
            start, end = feats.spans[int(np.argmax(clauses[:, i]))]
            if task in CONTROLLED.values() and names_only_a_map(text[start:end]):
                continue  # "can you make the depth image of it?": the map is what is asked for, not a picture
            if not parsed.masked[start:end].strip(" .!?"):
                continue  # a clause the parser blanked ("Expected: a polite reply"): nothing is asked there
            inside = [d for d in found if start <= d.start < end]
            if not inside and pattern("questions", "about_assistant").search(text[start:end]):
                continue  # "Can you read Spanish? What does the sign in street.jpg say?": a question to the assistant
            if inside and probs[i] < SHARED_CLAUSE_THRESHOLD:
                continue
            needs = {s.type for s in self.registry.get(task).inputs if s.type != "text" and s.required}
            if not needs <= media:
                continue
            if inside:
                last = max(d.end for d in inside)
                out.append(Detection(task, last, max(last, end)))
            else:
                out.append(Detection(task, start, end, capture=text[start:end].strip(" ,.;:!?") or None,
                                     clause_words=True))
            media |= set(self.registry.get(task).outputs)
        log.debug("learned detector adds %s", [(d.task, round(float(probs[tasks.index(d.task)]), 2)) for d in out])
        return out

    def rule_vector(self, tasks: Sequence[str]) -> np.ndarray:
        """The rule-based plan's tasks as a 0/1 vector over the planner's tools."""
        index = {s.name: i for i, s in enumerate(self.sigs)}
        v = np.zeros(len(self.sigs), dtype=np.float32)
        for task in tasks:
            label = next((lab for lab, t in self.task_of.items() if t == task), task)
            if label in index:
                v[index[label]] = 1.0
        return v

    def plan(self, text: str, parsed: ParsedRequest, rule_tasks: Sequence[str]) -> list[dict[str, object]]:
        """A raw plan (JARVIS task dicts over the registry's task names) for ``text``."""
        nodes = self.planner.plan(text, parsed, self.rule_vector(rule_tasks))
        return to_tasks(nodes, self.sigs, self.registry, self.task_of)


def choose_model(registry: TaskRegistry, models: Sequence[LearnedModel] | None = None) -> LearnedModel | None:
    """The model that knows most of the registry's tasks (by name or alias), if it knows at least
    ``learned.MIN_COVERAGE`` of them; on a tie a model trained on that tool list (``combine="replace"``) wins over
    the product model, whose labels (our task names) also cover a registry bound to a TaskBench tool list."""
    from .learned import MIN_COVERAGE, load_models  # looked up per call, so a test can swap the shipped models

    models = load_models() if models is None else models
    size = max(1, len(list(registry)))
    scored = sorted(((len(label_map(registry, m.labels)) / size, m.combine == "replace", -i)
                     for i, m in enumerate(models)), reverse=True)
    if not scored or scored[0][0] < MIN_COVERAGE:
        return None
    return models[-scored[0][2]]


def registry_phrases(registry: TaskRegistry, phrases: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Example phrasings per registry task: its own entry plus those of its TaskBench aliases."""
    out = {}
    for t in registry:
        merged = [p for name in (t.name, *t.taskbench) for p in phrases.get(name, ())]
        out[t.name] = tuple(dict.fromkeys(merged))
    return out


@lru_cache(maxsize=8)
def _prototypes_cached(sigs: tuple[ToolSig, ...], phrases: tuple[tuple[str, tuple[str, ...]], ...] | None,
                       embed: Embed) -> Prototypes | None:
    return embed_prototypes(sigs, embed, dict(phrases) if phrases is not None else None)


def _prototypes(sigs: tuple[ToolSig, ...], phrases: dict[str, tuple[str, ...]] | None, embed: Embed
                ) -> Prototypes | None:
    """The tools' embedded phrasings, embedded once per process for a tool list and embedder (every planner of
    the process shares them: embedding a few hundred phrasings takes seconds)."""
    return _prototypes_cached(sigs, tuple(sorted(phrases.items())) if phrases is not None else None, embed)


def _sig(t: TaskType) -> ToolSig:
    return ToolSig(t.name, t.description, tuple(s.type for s in t.inputs), tuple(t.outputs))


def _media(kind: str) -> str:
    kind = kind.lower()
    return kind if kind in _MEDIA else "text"


def to_tasks(nodes: Sequence[PlannedNode], sigs: Sequence[ToolSig], registry: TaskRegistry,
             task_of: dict[str, str]) -> list[dict[str, object]]:
    """TaskBench-style nodes as registry tasks: each argument goes to the first free slot of its media type."""
    by_name = {s.name: s for s in sigs}
    out: list[dict[str, object]] = []
    for i, node in enumerate(nodes):
        task = task_of.get(node.tool, node.tool)
        tt = registry.get(task)
        args: dict[str, str] = {}
        deps: set[int] = set()
        for value in node.args:
            if isinstance(value, tuple):
                producer = by_name.get(nodes[value[1]].tool)
                media = _media(producer.outputs[0]) if producer and producer.outputs else "text"
                text, dep = gen(value[1]), value[1]
            else:
                media, text, dep = media_of_resource(value) or "text", value, None
                if value.lower().startswith(("http://", "https://", "www.")) and not any(
                        s.type == media and s.name not in args for s in tt.inputs):
                    media = "text"  # a URL goes to a text slot when no slot takes its media
            slot = next((s for s in tt.inputs if s.type == media and s.name not in args), None)
            if slot is None:
                continue
            args[slot.name] = text
            if dep is not None:
                deps.add(dep)
        out.append({"task": task, "id": i, "dep": sorted(deps) or [-1], "args": args})
    return out
