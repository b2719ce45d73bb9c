"""Hypothesis strategies for hostile plans, the function that says what became of a plan, and the agent the
whole-agent fuzz runs.

Shared by ``test_plan_fuzz.py`` and ``benchmarks/plan_fuzz.py`` (which counts outcomes over more examples). Plans are
generated as Python structures (what ``repair_plan`` takes) and as text (what an LLM answers): deep nesting, wrong
types, huge and non-finite ids, NaN/inf, unicode and lone surrogates, cycles, duplicate ids, self references,
unknown tasks and slots, multi-reference arguments, oversized plans, and texts cut, wrapped in prose or flooded with
brackets.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from hugginggpt import errors
from hugginggpt.agent import HuggingGPT
from hugginggpt.backends.llm import LLMBackend
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.errors import HuggingGPTError, PlanError
from hugginggpt.experts.llm_expert import llm_model_id, llm_tasks
from hugginggpt.llm.base import ChatResult
from hugginggpt.plan_schema import DEFAULT_MAX_PLAN_TASKS, Plan, ref_id
from hugginggpt.planning.limits import MAX_PLAN_DEPTH
from hugginggpt.planning.validate import repair_plan, validate_plan
from hugginggpt.results import RunResult
from hugginggpt.tasks import TaskRegistry, default_registry
from llm_doubles import ScriptedLLM

REG = default_registry()
TASKS = REG.names
SLOTS = sorted({s.name for t in REG for s in t.inputs})

# -- leaves ------------------------------------------------------------------------------------------------------

# Text with lone surrogates, NUL, right-to-left marks, emoji, combining marks: what an LLM or an attacker can send.
weird_text = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=4),  # lone surrogates
    st.text(st.characters(max_codepoint=0x20), max_size=6),  # control characters, NUL
    st.sampled_from(["\u202e", "👍🏽", "e\u0301", "\ufeff", "ｆｕｌｌ", "\u0000"]),
)
task_names = st.one_of(
    st.sampled_from(TASKS),
    st.sampled_from(["Image-to-Text", "image_to_text", "Text-to-Speech", "Automatic Speech Recognition",
                     "Image Editing", "ImageClassification", "tts", "translate", ""]),
    weird_text,
    st.integers(-5, 5), st.none(), st.lists(st.sampled_from(TASKS), max_size=2),
)
huge_int = st.sampled_from([2**31, 2**63, 10**100, -(10**100), 10**999])
ids = st.one_of(
    st.integers(0, 12), st.integers(0, 12), st.integers(-3, 40), huge_int,
    st.sampled_from([math.inf, -math.inf, math.nan, 1e400, 3.0, 2.5, -0.0, True, False]),
    st.sampled_from(["0", "1", " 2 ", "3.0", "-1", "x", "", "٣", "9" * 30]), st.none(),
    st.lists(st.integers(0, 3), max_size=2),
)
files = st.sampled_from(["a.png", "photo.jpg", "b.wav", "clip.mp4", "doc.pdf", "https://example.com/x.png",
                         "../../etc/passwd", "/etc/shadow", "a\x00.png", "ü ñ.png", "C:\\x.jpg", "x.png?y=1"])


def refs(max_id: int = 14) -> st.SearchStrategy[str]:
    """``<GENERATED>-k`` values: single, several in one argument (``unfold``), mixed with text, huge."""
    k = st.integers(0, max_id)
    return st.one_of(
        k.map(lambda i: f"<GENERATED>-{i}"),
        st.lists(k, min_size=2, max_size=5).map(lambda ks: ",".join(f"<GENERATED>-{i}" for i in ks)),
        k.map(lambda i: f"see <GENERATED>-{i} and more"),
        st.sampled_from(["<GENERATED>-" + "9" * 40, "<GENERATED>-", "<GENERATED>--1", "<generated>-0"]),
    )


scalars = st.one_of(st.text(max_size=20), weird_text, st.integers(), huge_int, st.floats(), st.booleans(), st.none())
# Nested lists of scalars, up to twice the depth limit.
nested = st.tuples(st.integers(1, 2 * MAX_PLAN_DEPTH), scalars).map(lambda p: _nest(p[1], p[0]))
arg_values = st.one_of(st.text(max_size=30), files, refs(), refs(), scalars, nested,
                       st.lists(st.one_of(files, refs(), scalars), max_size=4),
                       st.dictionaries(st.text(max_size=5), scalars, max_size=2))
slot_names = st.one_of(st.sampled_from(SLOTS), st.sampled_from(["img", "image_url", "prompt", "question", "_0"]),
                       st.text(max_size=8))
args = st.one_of(st.dictionaries(slot_names, arg_values, max_size=4), st.lists(arg_values, max_size=3), scalars)
deps = st.one_of(st.lists(st.one_of(st.integers(-2, 14), st.text(max_size=3), st.floats(), st.none()), max_size=4),
                 scalars)


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


# -- plans as Python structures -----------------------------------------------------------------------------------


@st.composite
def task_objects(draw: st.DrawFn) -> dict[str, Any]:
    """One task object; some keys may be missing, renamed (``arguments``) or extra."""
    obj: dict[str, Any] = {"task": draw(task_names)}
    if draw(st.integers(0, 9)):
        obj["id"] = draw(ids)
    if draw(st.booleans()):
        obj["dep"] = draw(deps)
    obj["arguments" if draw(st.integers(0, 9)) == 0 else "args"] = draw(args)
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.text(max_size=5))] = draw(scalars)
    return obj


@st.composite
def big_plans(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Plans around the task cap: chains in either order, or one argument listing many references."""
    n = draw(st.integers(DEFAULT_MAX_PLAN_TASKS - 3, DEFAULT_MAX_PLAN_TASKS + 40))
    chain = [{"task": "summarization", "id": i, "args": {"text": f"<GENERATED>-{i - 1}" if i else "start"}}
             for i in range(n)]
    if draw(st.booleans()):
        chain.reverse()
    if draw(st.booleans()):
        many = ",".join(f"<GENERATED>-{i}" for i in range(draw(st.integers(2, 3 * DEFAULT_MAX_PLAN_TASKS))))
        chain = [*chain[:3], {"task": "translation", "id": 10_000, "args": {"text": many}}]
    return chain


_FILE_OF = {"image": ["a.png", "photo.jpg", "x.gif"], "audio": ["b.wav", "talk.mp3"], "video": ["clip.mp4"]}
_ALIASES = {"image": "img", "audio": "audio_url", "text": "prompt", "video": "video_path"}


@st.composite
def plausible_plans(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Plans an LLM could really write: registry tasks whose slots hold fitting files, text or references to
    earlier tasks, then damaged the ways LLMs damage them (aliases, string ids, wrong deps, list arguments, several
    references in one argument, duplicate ids, self references, references forward that close a cycle)."""
    n = draw(st.integers(1, 6))
    out: list[dict[str, Any]] = []
    produced: dict[str, list[int]] = {"text": [], "image": [], "audio": [], "video": []}
    for i in range(n):
        tt = REG.get(draw(st.sampled_from(TASKS)))
        task_args: dict[str, Any] = {}
        for slot in tt.inputs:
            if not slot.required and draw(st.booleans()):
                continue
            earlier = produced[slot.type]
            if earlier and draw(st.booleans()):
                task_args[slot.name] = f"<GENERATED>-{draw(st.sampled_from(earlier))}"
            elif slot.type == "text":
                task_args[slot.name] = draw(st.sampled_from(["a cat on a mat", "bonjour", "positive, negative"]))
            else:
                task_args[slot.name] = draw(st.sampled_from(_FILE_OF[slot.type]))
        task: dict[str, Any] = {"task": tt.name, "id": i, "dep": [-1], "args": task_args}
        damage = draw(st.integers(0, 14))
        if damage == 0:
            task["task"] = draw(st.sampled_from([tt.name.replace("-", " ").title(), tt.name.replace("-", "_")]))
        elif damage == 1:
            task["id"] = str(i)
        elif damage == 2:
            task["dep"] = draw(deps)
        elif damage == 3 and task_args:
            slot_name = next(iter(task_args))
            slot_type = tt.slot(slot_name).type  # type: ignore[union-attr]
            task_args[_ALIASES.get(slot_type, "x")] = task_args.pop(slot_name)
        elif damage == 4:
            task["args"] = list(task_args.values())
        elif damage == 5 and task_args:
            slot_name = next(iter(task_args))
            same = produced[tt.slot(slot_name).type]  # type: ignore[union-attr]
            if len(same) >= 2:
                task_args[slot_name] = ",".join(f"<GENERATED>-{k}" for k in same)
        elif damage == 6 and i:
            task["id"] = draw(st.integers(0, i - 1))  # duplicate id
        elif damage == 7 and task_args:
            task_args[next(iter(task_args))] = f"<GENERATED>-{i}"  # self reference
        elif damage == 8 and task_args and i + 1 < n:
            task_args[next(iter(task_args))] = f"<GENERATED>-{i + 1}"  # forward: a cycle or a type mismatch
        elif damage == 9:
            task["id"] = draw(st.sampled_from([1e400, math.inf, math.nan, -1, 2**70]))
        out.append(task)
        for media in tt.outputs:
            produced[media].append(i)
    if draw(st.integers(0, 5)) == 0:
        out.reverse()  # listed last-first
    return out


task_lists = st.lists(st.one_of(task_objects(), task_objects(), task_objects(), scalars), max_size=8)
plan_values = st.one_of(
    plausible_plans(), plausible_plans(), plausible_plans().map(lambda ts: {"tasks": ts}),
    task_lists, task_lists,
    task_lists.map(lambda ts: {"tasks": ts}),
    task_lists.map(lambda ts: {"plan": ts}),
    task_objects(),
    big_plans(),
    st.tuples(st.integers(MAX_PLAN_DEPTH - 2, 400), task_lists).map(lambda p: _nest(p[1], p[0])),
    scalars,
)

# -- plans as text ------------------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=True)
    except ValueError:  # integers of more than 4300 digits
        return json.dumps(str(value)[:50] if not isinstance(value, int) else 0)


@st.composite
def plan_texts(draw: st.DrawFn) -> str:
    """An LLM's answer: a plan's JSON, then maybe cut, wrapped, corrupted or replaced by a bracket flood."""
    text = _dumps(draw(plan_values))
    how = draw(st.integers(0, 11))
    if how == 0 and text:  # cut at the token limit
        text = text[: draw(st.integers(0, len(text)))]
    elif how == 1:
        text = f"Sure! Here is the plan:\n```json\n{text}\n```\nHope this helps."
    elif how == 2:
        text = draw(st.sampled_from(["[", "{", "[{", '{"tasks": ['])) * draw(st.integers(1, 20_000))
    elif how == 3 and text:  # one character replaced
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + draw(st.sampled_from([*'[]{}",:\\', "\\ud800", "1e400", "NaN"])) + text[i + 1:]
    elif how == 4:
        text = text.replace("0", draw(st.sampled_from(["1e400", "Infinity", "-Infinity", "NaN", "9" * 5000])), 1)
    elif how == 5:
        text = draw(weird_text) + text + draw(weird_text)
    elif how == 6:
        text = '{"tasks": [{"task": "translation", "id": 0, "args": {"text": "\\ud800\\udfff\\u0000"}}]}'
    elif how == 7:
        text = "[1, " * draw(st.integers(1, 3000)) + text
    return text


# -- what became of a plan ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """``kind``: ``valid`` (tasks, no repair needed), ``repaired`` (tasks, valid after at least one repair),
    ``empty`` (no task: the request is answered directly), or ``rejected`` (a ``PlanError``, or validation problems,
    which the planners turn into a ``PlanError``)."""

    kind: str
    seconds: float
    plan: Plan | None = None
    error: PlanError | None = None


def judge(raw: Any, *, text: bool, registry: TaskRegistry = REG, max_tasks: int = DEFAULT_MAX_PLAN_TASKS) -> Outcome:
    """Parse (when ``raw`` is text) -> repair -> validate one plan, checking what a valid plan must satisfy.

    Any exception other than ``PlanError`` propagates: that is the crash the fuzz looks for.
    """
    from hugginggpt.planning.llm_planner import read_plan

    started = time.perf_counter()
    try:
        plan, notes = read_plan(raw, registry, max_tasks=max_tasks) if text else \
            repair_plan(raw, registry, max_tasks=max_tasks)
        issues = validate_plan(plan, registry)
        order = plan.topological()  # must not fail on cyclic or duplicate-id plans either
        if issues:
            raise PlanError("invalid plan", issues=[str(i) for i in issues])
    except PlanError as exc:
        if not isinstance(exc, HuggingGPTError) or not exc.message:
            raise AssertionError(f"a PlanError without a message: {exc!r}") from exc
        return Outcome("rejected", time.perf_counter() - started, error=exc)
    _check_valid(plan, order, max_tasks)
    kind = "empty" if not plan.tasks else "repaired" if notes else "valid"
    return Outcome(kind, time.perf_counter() - started, plan=plan)


def _check_valid(plan: Plan, order: list[Any], max_tasks: int) -> None:
    """What every plan handed to the scheduler must be."""
    ids = [t.id for t in plan.tasks]
    assert len(ids) == len(set(ids)), "duplicate ids in a valid plan"
    assert len(plan.tasks) <= max_tasks, "a valid plan over the task cap"
    assert sorted(t.id for t in order) == sorted(ids), "topological order lost or added tasks"
    position = {t.id: n for n, t in enumerate(order)}
    for t in plan.tasks:
        assert 0 <= t.id <= 2**31 - 1 + max_tasks, f"id {t.id} out of range"
        refs_ = {k for v in t.args.values() if (k := ref_id(v)) is not None}
        assert set(t.deps()) == refs_, f"task {t.id}: dep {t.dep} != references {refs_}"
        assert all(position[d] < position[t.id] for d in t.deps()), "topological order broken"
    json.dumps(plan.to_jarvis(), allow_nan=False).encode("utf-8")  # storable, sendable
    plan.to_taskbench()


# -- the whole agent ------------------------------------------------------------------------------------------------

NAMED_CODES = {cls.code for cls in vars(errors).values()
               if isinstance(cls, type) and issubclass(cls, errors.HuggingGPTError)} - {"internal_error"}
requests = st.one_of(st.sampled_from(["describe a.png and read it aloud", "translate 'bonjour' and summarize it",
                                      "hello there", "summarize: the cat sat on the mat"]),
                     weird_text.filter(lambda s: bool(s.strip())))
plan_answers = st.tuples(plan_texts(), st.sampled_from(["stop", "stop", "stop", "length"]))


class HostileLLM(ScriptedLLM):
    """Test double (not a model): planning calls get the next scripted ``(text, finish_reason)``; every other call
    (model choice, task execution by the controller LLM, the answer) gets "Done."."""

    name = "hostile"

    def __init__(self) -> None:
        super().__init__(capable=True)
        self.plan_answers: list[tuple[str, str]] = []
        self.plan_reasons: list[str] = []  # the finish_reason of every planning answer given

    def chat(self, messages: list[dict[str, str]], **kwargs: Any) -> ChatResult:
        plan = kwargs.get("stage") == "plan"
        text, reason = (self.plan_answers.pop(0) if self.plan_answers else ('{"tasks": []}', "stop")) if plan \
            else ("Done.", "stop")
        self.answers = [text]
        out = super().chat(messages, **kwargs)
        out.finish_reason = reason
        if plan:
            self.plan_reasons.append(reason)
        return out


def build_hostile_agent(root: Path) -> tuple[HuggingGPT, HostileLLM]:
    """An agent planning with the LLM planner over ``HostileLLM``, in ``root``. Execution is kept cheap on purpose:
    the controller LLM is the only backend (text tasks it serves are forced onto it), so a task that would load an
    embedded model fails fast with ``no_model`` instead; no input file exists, so file arguments fail fast too."""
    (root / "inputs").mkdir(exist_ok=True)
    llm = HostileLLM()
    # plan_shortlist off: what is fuzzed is the plan text; the task shortlist runs real models (offline planner,
    # MiniLM) on every request and is tested in tests/planning/test_shortlist.py.
    config = HuggingGPTConfig(workspace=root / "ws", allowed_dirs=[root / "inputs"], planner="llm",
                              plan_shortlist=False, overrides=dict.fromkeys(llm_tasks(), llm_model_id(llm)),
                              task_timeout=5)
    agent = HuggingGPT(config, llm=llm, base_dir=root / "inputs")
    agent.backends = lambda llm=None: [LLMBackend(llm or agent.llm)]  # type: ignore[method-assign]
    # One run first, so that building the catalog is not timed as part of a fuzzed run.
    warm = run_agent(agent, llm, "translate hi", [
        ('{"tasks": [{"task": "translation", "id": 0, "dep": [-1], "args": {"text": "hi"}}]}', "stop")])
    assert warm.error is None and [r.status for r in warm.results] == ["ok"], warm
    return agent, llm


def run_agent(agent: HuggingGPT, llm: HostileLLM, request: str, answers: list[tuple[str, str]]) -> RunResult:
    """One ``arun`` whose planning calls are answered with ``answers`` in turn."""
    llm.plan_answers = list(answers)
    llm.calls.clear()
    llm.plan_reasons.clear()
    return asyncio.run(agent.arun(request))
