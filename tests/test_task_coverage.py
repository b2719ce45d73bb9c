"""Every task of the registry (``tasks.yaml``) can be planned offline and is either served by some backend's code or
declared uncovered with a reason: the tables that name a task are checked against each other, without loading any
model."""

from __future__ import annotations

from hugginggpt.experts.hub.hf_calls import CALLS
from hugginggpt.experts.hub.tasks import NOT_COVERED
from hugginggpt.experts.hub.tasks import registry as hub_registry
from hugginggpt.experts.llm_expert import llm_tasks
from hugginggpt.experts.registry import embedded_expert_classes
from hugginggpt.planning.offline.detect import CONTROLLED
from hugginggpt.planning.offline.lexicon import default_lexicon
from hugginggpt.tasks import default_registry


def backend_paths() -> dict[str, set[str]]:
    """The tasks each backend has code for, by backend."""
    return {
        "embedded": {cls.task for cls in embedded_expert_classes()},
        "transformers/diffusers": set(hub_registry()),
        "hf-inference": set(CALLS),
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


def test_every_task_is_planned_and_served_or_declared_uncovered():
    names = [task.name for task in default_registry()]
    paths = backend_paths()
    planned = planned_tasks()
    problems: list[str] = []
    for task in names:
        if task not in planned:
            problems.append(f"{task}: no entry in the offline planner's lexicon (planning/offline/lexicon.yaml)")
        served = [backend for backend, tasks in paths.items() if task in tasks]
        if not served and task not in NOT_COVERED:
            problems.append(f"{task}: no code path in any backend ({', '.join(paths)}) and no reason in "
                            "experts/hub/tasks.NOT_COVERED")
        if task in NOT_COVERED and task in paths["transformers/diffusers"]:
            problems.append(f"{task}: declared uncovered in NOT_COVERED, yet experts/hub has a code path for it")
        if task in NOT_COVERED and len(NOT_COVERED[task].split()) < 5:
            problems.append(f"{task}: NOT_COVERED gives no real reason ({NOT_COVERED[task]!r})")
    # The other direction, for the declarations: a reason or a planner entry for a task the registry does not know
    # is a typo or a stale entry. (Backend code may serve more than the registry: diffusers' scribble ControlNet.)
    for where, tasks in (("NOT_COVERED", set(NOT_COVERED)), ("the planner", set(planned))):
        problems += [f"{task}: named by {where} but not in tasks.yaml" for task in sorted(tasks - set(names))]
    assert not problems, "\n".join(problems)
