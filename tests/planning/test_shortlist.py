"""The LLM planner's task shortlist: which task signatures and demos the prompt shows, and the fallback to all.

Fast tests use stand-ins for the signals (an offline planner double and a word-count embedder); the real offline
planner and MiniLM are used only in the tests marked slow."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from hugginggpt.errors import PlanError
from hugginggpt.plan_schema import Plan
from hugginggpt.planning.base import KnownResource, PlanContext, PlanOutcome
from hugginggpt.planning.llm_planner import LLMPlanner, plan_json_schema
from hugginggpt.planning.shortlist import Ranking, TaskShortlist, shortlist_for
from hugginggpt.tasks import default_registry
from llm_doubles import ScriptedLLM

REG = default_registry()
GOOD = json.dumps({"tasks": [
    {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}},
    {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
]})


class FakeOffline:
    """Stands in for ``OfflinePlanner``: a fixed plan (or an exception) and no learned model."""

    def __init__(self, tasks: Sequence[str] = (), error: Exception | None = None) -> None:
        self.tasks = list(tasks)
        self.error = error
        self.calls = 0

    def plan(self, request: str, context: PlanContext) -> PlanOutcome:
        self.calls += 1
        if self.error is not None:
            raise self.error
        raw = [{"task": t, "id": i, "dep": [-1], "args": {}} for i, t in enumerate(self.tasks)]
        return PlanOutcome(plan=Plan.from_jarvis(raw), planner="offline")

    def learned_for(self, registry: Any) -> None:
        return None


def word_embed(texts: Sequence[str]) -> np.ndarray:
    """Unit bag-of-words vectors (words hashed into 256 buckets): similar wording, similar vector."""
    out = np.zeros((len(texts), 256), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(".", " ").replace("-", " ").split():
            out[i, zlib.crc32(word.encode()) % 256] += 1.0
    return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-9, None)


def shortlist(tasks: Sequence[str] = (), **kw: Any) -> TaskShortlist:
    return TaskShortlist(REG, offline=FakeOffline(tasks), embed=word_embed, **kw)


def ctx(*files: tuple[str, str]) -> PlanContext:
    return PlanContext(registry=REG, files=[KnownResource(n, m) for n, m in files])


def test_union_of_offline_plan_and_similarity_in_registry_order() -> None:
    sl = shortlist(["token-classification"], similar_k=3, min_tasks=0, per_planned=0)
    names = sl.select("transcribe the speech in the audio recording", ctx())
    assert names is not None and "token-classification" in names  # the offline plan's task, however unlike
    assert "automatic-speech-recognition" in names  # the most similar description
    assert len(names) == 4 and names == [t.name for t in REG if t.name in names]


def test_padded_to_min_tasks_by_rank() -> None:
    names = shortlist(similar_k=2, min_tasks=7, per_planned=0).select("summarization of this text", ctx())
    assert names is not None and len(names) == 7 and "summarization" in names


def test_from_ranking_keeps_every_signal() -> None:
    sl = TaskShortlist(REG, offline=FakeOffline(), embed=None, learned_k=1, similar_k=1, min_tasks=0, per_planned=0)
    ranking = Ranking(planned=("translation",), learned={"summarization": 0.9, "text-to-image": 0.1},
                      similar={"depth-estimation": 0.7, "image-to-text": 0.2})
    assert sl.from_ranking(ranking) == sorted({"translation", "summarization", "depth-estimation"},
                                              key=REG.names.index)


def test_each_planned_task_widens_every_signal() -> None:
    sl = TaskShortlist(REG, offline=FakeOffline(), embed=None, learned_k=1, similar_k=0, min_tasks=0, per_planned=1)
    learned = {"summarization": 0.9, "text-to-image": 0.5, "depth-estimation": 0.4, "image-to-text": 0.1}
    one = sl.from_ranking(Ranking(planned=("translation",), learned=learned, similar={}))
    assert set(one) == {"translation", "summarization", "text-to-image"}
    two = sl.from_ranking(Ranking(planned=("translation", "text-to-speech"), learned=learned, similar={}))
    assert set(two) == {"translation", "text-to-speech", "summarization", "text-to-image", "depth-estimation"}


def test_plan_error_of_the_offline_planner_still_ranks() -> None:
    sl = TaskShortlist(REG, offline=FakeOffline(error=PlanError("missing input")), embed=word_embed,
                       similar_k=3, min_tasks=0, per_planned=0)
    ranking = sl.rank("answer a question about the image", ctx())
    assert ranking is not None and ranking.planned == () and len(sl.from_ranking(ranking)) == 3


def test_no_signal_means_every_task() -> None:
    broken = TaskShortlist(REG, offline=FakeOffline(error=RuntimeError("detector changed")), embed=None)
    assert broken.rank("describe a.jpg", ctx()) is None and broken.select("describe a.jpg", ctx()) is None
    llm = ScriptedLLM(GOOD)
    out = LLMPlanner(llm, REG, shortlist=broken).plan("describe a.jpg and read it aloud", ctx(("a.jpg", "image")))
    assert len(out.plan.tasks) == 2
    system = llm.calls[0]["messages"][0]["content"]
    assert all(t.signature() in system for t in REG)
    assert llm.calls[0]["json_schema"] == plan_json_schema(REG)
    assert not any("the prompt showed" in n for n in out.notes)


def test_a_shortlist_that_raises_falls_back_to_every_task() -> None:
    class Raising(TaskShortlist):
        def select(self, request: str, context: PlanContext | None = None) -> list[str] | None:
            raise KeyError("renamed field")

    planner = LLMPlanner(ScriptedLLM(GOOD), REG, shortlist=Raising(REG, embed=None))
    assert planner.shown_tasks("describe a.jpg", ctx()) is None


def test_prompt_schema_and_demos_show_only_the_shortlist() -> None:
    sl = shortlist(["image-to-text", "text-to-speech"], similar_k=2, min_tasks=6, per_planned=0)
    llm = ScriptedLLM(GOOD)
    planner = LLMPlanner(llm, REG, shortlist=sl, demos_k=3)
    out = planner.plan("describe a.jpg and read the description aloud", ctx(("a.jpg", "image")))
    shown = sl.select("describe a.jpg and read the description aloud", ctx(("a.jpg", "image")))
    assert shown is not None and {"image-to-text", "text-to-speech"} <= set(shown) and len(shown) == 6
    messages = llm.calls[0]["messages"]
    system = messages[0]["content"]
    for task in REG:
        assert (task.signature() in system) == (task.name in shown), task.name
    demo_tasks = [t["task"] for m in messages[2:-1:2] for t in json.loads(m["content"])["tasks"]]
    assert demo_tasks and set(demo_tasks) <= set(shown)  # no demo uses a task the prompt does not show
    assert any(json.loads(m["content"])["tasks"] == [] for m in messages[2:-1:2])  # chit-chat stays allowed
    branches = llm.calls[0]["json_schema"]["properties"]["tasks"]["items"]["anyOf"]
    assert [b["properties"]["task"]["const"] for b in branches] == shown
    assert any(n.startswith(f"the prompt showed {len(shown)} of {len(REG)} tasks") for n in out.notes)
    assert len(system) < len(LLMPlanner(llm, REG, shortlist=False).build_messages("x")[0]["content"]) * 0.7


def test_same_shortlist_for_the_reask() -> None:
    bad = json.dumps({"tasks": [  # speech fed into an image slot: a validation problem, so one re-ask
        {"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hello"}},
        {"task": "image-to-text", "id": 1, "dep": [0], "args": {"image": "<GENERATED>-0"}}]})
    llm = ScriptedLLM(bad, GOOD)
    sl = shortlist(["image-to-text", "text-to-speech"], min_tasks=4)
    LLMPlanner(llm, REG, shortlist=sl).plan("describe a.jpg and read it aloud", ctx(("a.jpg", "image")))
    assert len(llm.calls) == 2 and llm.calls[0]["json_schema"] == llm.calls[1]["json_schema"]
    assert sl._offline.calls == 1  # ranked once per request, not once per call


def test_a_task_outside_the_shortlist_is_still_valid_when_a_server_ignores_the_schema() -> None:
    answer = json.dumps({"tasks": [{"task": "translation", "id": 0, "dep": [-1], "args": {"text": "hola"}}]})
    sl = shortlist(["image-to-text"], similar_k=0, min_tasks=0, per_planned=0)
    out = LLMPlanner(ScriptedLLM(answer), REG, shortlist=sl).plan("describe a.jpg", ctx(("a.jpg", "image")))
    assert [t.task for t in out.plan.tasks] == ["translation"]


def test_schema_limited_to_tasks() -> None:
    schema = plan_json_schema(REG, tasks=["text-to-speech", "image-to-text"])
    branches = schema["properties"]["tasks"]["items"]["anyOf"]
    assert [b["properties"]["task"]["const"] for b in branches] == ["image-to-text", "text-to-speech"]
    flat = plan_json_schema(REG, per_task_slots=False, tasks=["text-to-speech"])["properties"]["tasks"]["items"]
    assert flat["properties"]["task"]["enum"] == ["text-to-speech"]
    assert set(flat["properties"]["args"]["properties"]) == {"text"}


def test_shared_shortlist_per_registry() -> None:
    assert shortlist_for(REG) is shortlist_for(REG)
    other = type(REG)(list(REG))
    assert shortlist_for(other) is not shortlist_for(REG)


# -- the real signals -------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("request_text", "files", "gold"), [
    ("Describe examples/cat.jpg and read the description aloud.", [("examples/cat.jpg", "image")],
     {"image-to-text", "text-to-speech"}),
    ("show me a joke and an image of cat", [], {"text-generation", "text-to-image"}),
    ("count the zebras in /examples/c.jpg", [("/examples/c.jpg", "image")], {"object-detection"}),
    ("Transcribe meeting.wav and summarize it.", [("meeting.wav", "audio")],
     {"automatic-speech-recognition", "summarization"}),
])
def test_real_shortlist_keeps_the_tasks_asked_for(request_text: str, files: list[tuple[str, str]],
                                                  gold: set[str]) -> None:
    sl = TaskShortlist(REG)
    names = sl.select(request_text, ctx(*files))
    assert names is not None and gold <= set(names) and len(names) <= 16
