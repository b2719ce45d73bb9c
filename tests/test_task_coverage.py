"""``tasks.yaml`` is the one table of a task's facts. Every task can be planned offline and is either served by some
backend's code or declared uncovered with a reason, and every other table that names tasks (the backends' per-task
code, the LLM prompts, the planner's sets, the fallback plans) names only tasks of ``tasks.yaml`` and agrees with the
facts it states. Checked without loading any model; each failure names the task and the table."""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

import pytest
import yaml

from hugginggpt import fallback, respond
from hugginggpt.experts.base import ExpertOutput, ExpertResult
from hugginggpt.experts.hub import hf_calls, registry, wire
from hugginggpt.experts.hub.tasks import NOT_COVERED, hosted
from hugginggpt.experts.hub.tasks import registry as hub_registry
from hugginggpt.experts.llm_expert import ANY_LLM_TASKS, llm_tasks
from hugginggpt.experts.registry import embedded_expert_classes
from hugginggpt.planning.offline import text_slots
from hugginggpt.planning.offline.detect import CONTROLLED
from hugginggpt.planning.offline.lexicon import default_lexicon
from hugginggpt.tasks import JARVIS_SHAPES, LLM_MODEL, TaskType, _parse, default_registry

HUB = Path(hf_calls.__file__).parent
MIN_REASON_WORDS = 5


def backend_paths() -> dict[str, set[str]]:
    """The tasks each backend has code for, by backend (a local task served for catalog entries only is left out:
    no plan names it)."""
    return {
        "embedded": {cls.task for cls in embedded_expert_classes()},
        "transformers/diffusers": {name for name, t in hub_registry().items() if not t.catalog_only},
        "hf-inference": set(hosted()),
        "llm": set(llm_tasks()),
    }


def planned_tasks() -> dict[str, str]:
    """The tasks the offline planner can put in a plan, with where it finds them: its lexicon's task triggers and
    generation nouns, or its controlled-generation table (a condition map task -> the generator that uses it)."""
    lexicon = default_lexicon().raw
    found = {task: "lexicon tasks" for task in lexicon.get("tasks", {})}
    for task in lexicon.get("generation", {}).get("nouns", {}):
        found.setdefault(task, "lexicon generation nouns")
    for generator in CONTROLLED.values():
        found.setdefault(generator, "controlled generation (planning/offline/detect.CONTROLLED)")
    return found


def tables_naming_tasks() -> dict[str, set[str]]:
    """Every table outside tasks.yaml that names tasks, by where it is."""
    return {
        "experts/llm_tasks.yaml": set(llm_tasks()),
        "experts/llm_expert.ANY_LLM_TASKS": set(ANY_LLM_TASKS),
        "experts/hub/hosted() (hf_calls, @hosted_call)": set(hosted()),
        "experts/hub local code (@hub_task)": backend_paths()["transformers/diffusers"],
        "embedded experts' task (experts/registry.FAMILY_MODULES)": backend_paths()["embedded"],
        "experts/hub/tasks.NOT_COVERED": set(NOT_COVERED),
        "planning/offline lexicon": set(planned_tasks()),
        "planning/offline lexicon questions.answered_by": {
            t for tasks in default_lexicon().raw["questions"]["answered_by"].values() for t in tasks},
        "planning/offline/detect.CONTROLLED": set(CONTROLLED) | set(CONTROLLED.values()),
        "planning/offline/text_slots.ANALYTIC": set(text_slots.ANALYTIC),
        "planning/offline/text_slots.BRIDGES": set(text_slots.BRIDGES.values()),
        "fallback.DEFAULT_TASK": {task for task, _, _ in fallback.DEFAULT_TASK.values()},
        "fallback.MAKER": set(fallback.MAKER.values()),
        "respond._ANNOTATES": set(respond._ANNOTATES),
    }


def test_every_task_is_planned_and_served_or_declared_uncovered():
    names = [task.name for task in default_registry()]
    paths = backend_paths()
    planned = planned_tasks()
    problems: list[str] = []
    for task in default_registry():
        if task.name not in planned:
            problems.append(f"{task.name}: no entry in the offline planner's lexicon (planning/offline/lexicon.yaml)")
        served = [backend for backend, tasks in paths.items() if task.name in tasks]
        if not served and not task.no_transformers:
            problems.append(f"{task.name}: no code path in any backend ({', '.join(paths)}) and no reason in "
                            "tasks.yaml (transformers: {none: <reason>})")
        if task.no_transformers and task.name in paths["transformers/diffusers"]:
            problems.append(f"{task.name}: tasks.yaml says transformers has no code path, yet experts/hub has one")
        for key, reason in (("transformers", task.no_transformers), ("offline", task.offline_reason)):
            if reason is not None and len(reason.split()) < MIN_REASON_WORDS:
                problems.append(f"{task.name}: tasks.yaml's {key}: {{none: ...}} gives no real reason ({reason!r})")
    problems += [f"{task}: named by the planner but not in tasks.yaml" for task in sorted(set(planned) - set(names))]
    assert not problems, "\n".join(problems)


def test_every_table_names_only_tasks_of_tasks_yaml():
    names = set(default_registry().names)
    problems = [f"{task}: named by {where} but not in tasks.yaml"
                for where, tasks in tables_naming_tasks().items() for task in sorted(tasks - names)]
    assert not problems, "\n".join(problems)


def test_catalog_only_local_tasks_are_really_outside_tasks_yaml():
    extra = {name for name, t in hub_registry().items() if t.catalog_only}
    assert extra == {"scribble-text-to-image"}
    assert not extra & set(default_registry().names)


def test_offline_facts_agree_with_the_embedded_experts_and_the_llm():
    experts: dict[str, set[str]] = {}
    for cls in embedded_expert_classes():
        experts.setdefault(cls.task, set()).add(cls.model_id)
    problems: list[str] = []
    for task in default_registry():
        declared = set(task.offline) - {LLM_MODEL}
        if declared != experts.get(task.name, set()):
            problems.append(f"{task.name}: tasks.yaml offline {sorted(declared)}, but the embedded experts for it are "
                            f"{sorted(experts.get(task.name, set()))}")
        if (LLM_MODEL in task.offline) != (task.name in ANY_LLM_TASKS):
            problems.append(f"{task.name}: tasks.yaml offline {'names' if LLM_MODEL in task.offline else 'lacks'} "
                            "`llm`, but experts/llm_expert.ANY_LLM_TASKS (what a small LLM may do) disagrees")
        if bool(task.offline) == bool(task.offline_reason):
            problems.append(f"{task.name}: tasks.yaml must give offline model ids or {{none: <reason>}}, not both")
    assert not problems, "\n".join(problems)


def test_llm_facts_agree_with_the_llm_prompts():
    llm = {t.name for t in default_registry() if t.llm}
    prompts = set(llm_tasks())
    assert prompts == llm, (f"llm: true in tasks.yaml but no prompt in experts/llm_tasks.yaml: "
                            f"{sorted(llm - prompts)}; a prompt but no llm: true: {sorted(prompts - llm)}")
    assert llm >= ANY_LLM_TASKS


def test_not_covered_is_read_from_tasks_yaml():
    raw = yaml.safe_load(resources.files("hugginggpt").joinpath("tasks.yaml").read_text(encoding="utf-8"))
    declared = {name: spec["transformers"]["none"] for name, spec in raw.items() if "transformers" in spec}
    assert declared == NOT_COVERED
    assert {"hed-control", "normal-control", "tabular-classification", "audio-to-audio"} <= set(NOT_COVERED)


def test_control_and_verdict_facts_agree_with_the_planner():
    reg = default_registry()
    assert reg.controlled() == CONTROLLED, "tasks.yaml controlled_by and planning/offline/detect.CONTROLLED differ"
    assert reg.verdicts() == set(text_slots.ANALYTIC), (
        f"tasks.yaml verdict: true {sorted(reg.verdicts())} vs planning/offline/text_slots.ANALYTIC "
        f"{sorted(text_slots.ANALYTIC)}")
    generators = {name for name, t in hub_registry().items() if t.library == "diffusers" and not t.catalog_only}
    assert set(CONTROLLED.values()) <= generators  # each ControlNet generator is served by the diffusers code


def test_the_planner_and_fallback_converters_fit_the_task_types():
    reg = default_registry()
    problems: list[str] = []
    for media, task in text_slots.BRIDGES.items():
        t = reg.get(task)
        if not t.slots_of_type(media) or t.outputs != ["text"]:
            problems.append(f"text_slots.BRIDGES[{media}] = {task}: it does not turn {media} into text "
                            f"({t.signature()})")
    for media, (task, slot, _) in fallback.DEFAULT_TASK.items():
        s = reg.get(task).slot(slot)
        if s is None or s.type != media:
            problems.append(f"fallback.DEFAULT_TASK[{media}] = {task}: it has no {media} slot {slot!r}")
    for media, task in fallback.MAKER.items():
        if media not in reg.get(task).outputs:
            problems.append(f"fallback.MAKER[{media}] = {task}: it does not output {media}")
    for task in respond._ANNOTATES:
        t = reg.get(task)
        if "image" not in t.outputs or not t.slots_of_type("image"):
            problems.append(f"respond._ANNOTATES: {task} does not draw on an input image")
    assert not problems, "\n".join(problems)


# What each JARVIS shape looks like, and a result that carries every structured fact.
_FULL = ExpertResult([ExpertOutput("text", text="the text")],
                     {"objects": [{"label": "cat", "score": 0.9, "box": {}}], "scores": {"cat": 0.9},
                      "entities": [{"word": "Paris", "label": "LOC"}], "answers": [{"answer": "red", "score": 0.8}],
                      "score": 0.7, "start": 0, "end": 3})
_EXPECTED = {
    "boxes": _FULL.data["objects"],
    "labels": [{"label": "cat", "score": 0.9}],
    "entities": _FULL.data["entities"],
    "answers": _FULL.data["answers"],
    "answer": {"answer": "the text", "score": 0.7, "start": 0, "end": 3},
    "text": {"text": "the text"},
    "media": {"path": "/images/x.png", "generated text": "the text"},
    "generated_text": {"generated text": "the text"},
}


@pytest.mark.parametrize("task", [t for t in default_registry()], ids=lambda t: t.name)
def test_jarvis_responses_follow_the_declared_shape(task: TaskType):
    paths = {"image": "/images/x.png"} if task.jarvis == "media" else {}
    assert wire.jarvis_shape(task.name, _FULL, paths) == _EXPECTED[task.jarvis]


def test_every_jarvis_shape_has_an_expectation():
    assert set(JARVIS_SHAPES) == set(_EXPECTED)
    # A structured shape whose facts are missing falls back to the generic form, as JARVIS's own server does.
    bare = ExpertResult([ExpertOutput("text", text="none")], {})
    assert wire.jarvis_shape("object-detection", bare, {"image": "/images/d.png"}) == \
        {"path": "/images/d.png", "generated text": "none"}
    assert wire.jarvis_shape("image-classification", bare, {}) == {"generated text": "none"}


def test_tasks_yaml_must_say_what_serves_a_task_offline():
    spec = {"description": "x", "inputs": {"text": "text"}, "outputs": ["text"]}
    with pytest.raises(ValueError, match="offline"):
        _parse("new-task", spec)
    with pytest.raises(ValueError, match="none"):
        _parse("new-task", {**spec, "offline": {"nothing": "why"}})
    parsed = _parse("new-task", {**spec, "offline": {"none": "no packaged model does this yet"}})
    assert parsed.offline == [] and parsed.offline_reason and parsed.jarvis == "generated_text"
    assert _parse("m", {**spec, "outputs": ["image"], "offline": ["a/b"]}).jarvis == "media"


def test_a_task_registered_twice_by_different_code_is_refused():
    table: registry.TaskTable[registry.HostedCall] = registry.TaskTable("test")

    def one(c, m, i):
        return ExpertResult.of_text("1")

    def two(c, m, i):
        return ExpertResult.of_text("2")

    table.add("summarization", one, one)
    table.add("summarization", one, one)  # the same code again (a module reload) is fine
    with pytest.raises(ValueError, match="registered twice"):
        table.add("summarization", two, two)
    assert dict(table) == {"summarization": one}


def _imports(path: Path) -> set[str]:
    """The sibling modules of experts/hub that a module imports (relative imports at any level of the tree)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


def test_hub_families_and_the_registry_import_no_cycle():
    families = {"text_tasks", "vision_audio_tasks", "diffusion_tasks", "hf_calls"}
    for name in families:
        assert "tasks" not in _imports(HUB / f"{name}.py"), f"experts/hub/{name}.py imports tasks.py (a cycle)"
        assert "registry" in _imports(HUB / f"{name}.py"), f"experts/hub/{name}.py registers nothing"
    for name in ("registry", "loading"):
        assert not _imports(HUB / f"{name}.py") & (families | {"tasks"}), f"experts/hub/{name}.py imports a family"
    assert families <= _imports(HUB / "tasks.py")
