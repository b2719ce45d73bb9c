"""The TaskBench baseline planner: the paper's prompt design (``prompts/taskbench_baseline.yaml``) over any LLM.

One user message holds the tool list as JSON lines, the goal and answer shape, the requirements, optional worked
examples, the request and ``# RESULT #:``. The answer ``{"task_steps": [...], "task_nodes": [{"task",
"arguments"}]}`` is parsed leniently (fenced, after prose, a single node object, a list of partial objects) and
turned into a ``Plan`` without validation: names outside the tool list and odd arguments are kept, because they
are what the benchmark scores. An answer with no readable ``task_nodes`` raises ``PlanError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ..errors import LLMResponseError, PlanError
from ..llm.base import LLM
from ..plan_schema import Plan, TaskSpec, gen
from ..planning.base import PlanContext, PlanOutcome
from ..prompts import baseline_prompt, render
from .data import NODE_REF
from .tools import ToolList

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def task_nodes_json_schema(tool_names: Sequence[str] | None = None) -> dict[str, Any]:
    """JSON schema of the baseline's answer (tool names as an enum when given), for backends that constrain."""
    task: dict[str, Any] = {"type": "string"}
    if tool_names:
        task["enum"] = list(tool_names)
    node = {"type": "object", "properties": {"task": task, "arguments": {"type": "array", "items": {"type": "string"}}},
            "required": ["task", "arguments"]}
    return {"type": "object", "required": ["task_steps", "task_nodes"],
            "properties": {"task_steps": {"type": "array", "items": {"type": "string"}},
                           "task_nodes": {"type": "array", "items": node}}}


def parse_result(text: str) -> dict[str, Any]:
    """The ``{"task_steps", "task_nodes"}`` object in an answer. Raises ``ValueError`` when there is none."""
    s = text.replace("\\_", "_")
    cut = s.rfind("RESULT #:")
    if cut != -1:
        s = s[cut + len("RESULT #:"):]
    candidates = [m.group(1) for m in _FENCE.finditer(s)] + [s]
    decoder = json.JSONDecoder()
    for cand in candidates:
        cand = cand.strip()
        for start in [0, *[m.start() for m in re.finditer(r"[\[{]", cand)]]:
            try:
                value, _ = decoder.raw_decode(cand, start)
            except json.JSONDecodeError:
                continue
            found = _as_result(value)
            if found is not None:
                return found
    raise ValueError("no JSON object with task_nodes in the answer")


def _as_result(value: Any) -> dict[str, Any] | None:
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and "task" in v for v in value):
            return {"task_steps": [], "task_nodes": value}  # a bare list of nodes
        merged: dict[str, Any] = {}
        for part in value:  # a list of partial objects: [{"task_steps": ...}, {"task_nodes": ...}]
            if isinstance(part, dict):
                for k, v in part.items():
                    merged.setdefault(k, []).extend(v if isinstance(v, list) else [v])
        value = merged
    if not isinstance(value, dict):
        return None
    nodes = value.get("task_nodes")
    if isinstance(nodes, dict):
        nodes = [nodes]
    if not isinstance(nodes, list):
        return None
    return {**value, "task_nodes": nodes}


def result_to_plan(result: dict[str, Any]) -> Plan:
    """TaskBench nodes as a ``Plan`` (id = position, ``<node-j>`` -> ``<GENERATED>-j``, ``dep`` from references)."""
    tasks = []
    nodes = [n for n in result.get("task_nodes", []) if isinstance(n, dict)]
    for j, node in enumerate(nodes):
        args = node.get("arguments", node.get("args", []))
        if isinstance(args, dict) and "value" not in args:
            args = list(args.values())  # {"text": ..., "image": ...}
        elif not isinstance(args, list):
            args = [args]
        values = [_arg_text(a) for a in args]
        values = [NODE_REF.sub(lambda m: gen(int(m.group(1))), v) for v in values]
        deps = sorted({int(k) for v in values for k in re.findall(r"<GENERATED>-(\d+)", v)
                       if int(k) != j and int(k) < len(nodes)})
        tasks.append(TaskSpec(task=str(node.get("task", "")), id=j, dep=deps or [-1],
                              args={f"arg{i}": v for i, v in enumerate(values)}))
    return Plan(tasks=tasks)


def _arg_text(value: Any) -> str:
    if isinstance(value, dict):
        return _arg_text(value["value"] if "value" in value else next(iter(value.values()), ""))
    if isinstance(value, list):
        return " ".join(_arg_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)


class TaskBenchBaselinePlanner:
    """Plans with TaskBench's prompt over ``tools`` through any ``LLM`` client (``chat(messages, ...)``).

    ``demos``: worked examples ``{"request", "result"}`` (``result`` as ``{"task_steps", "task_nodes"}``) shown
    before the request, as the paper's ``use_demos``. ``constrain``: pass the answer's JSON schema to the client
    (the paper did not; off by default).
    """

    name = "taskbench-baseline"

    def __init__(self, llm: LLM, tools: ToolList, *, demos: Sequence[dict[str, Any]] = (), constrain: bool = False,
                 temperature: float | None = None, max_tokens: int | None = None) -> None:
        self.llm = llm
        self.tools = tools
        self.demos = list(demos)
        self.prompt = baseline_prompt()
        self.temperature = float(self.prompt.temperature if temperature is None else temperature)
        self.max_tokens = int(self.prompt.max_tokens if max_tokens is None else max_tokens)
        self.schema = task_nodes_json_schema(tools.names) if constrain and tools.typed else None

    def build_messages(self, request: str) -> list[dict[str, str]]:
        """The one user message of the prompt."""
        p = self.prompt
        parts = [render(p.tools, tools=[json.dumps(t.to_json()) for t in self.tools]),
                 render(p.goal if self.tools.typed else p.goal_parameters),
                 render(p.requirements)]
        parts += [render(p.demo, request=d["request"], result=json.dumps(d["result"])) for d in self.demos]
        parts.append(render(p.request, request=request))
        return [{"role": "user", "content": "\n\n".join(parts)}]

    def plan(self, request: str, context: PlanContext | None = None) -> PlanOutcome:
        """Ask the LLM once; raises ``PlanError`` when the answer holds no readable task nodes."""
        try:
            reply = self.llm.chat(self.build_messages(request), json_schema=self.schema, max_tokens=self.max_tokens,
                                  temperature=self.temperature, stage="plan")
        except LLMResponseError as exc:
            raise PlanError(f"The LLM gave no usable answer: {exc.message}") from exc
        text = reply.text or ""
        try:
            result = parse_result(text)
        except ValueError as exc:
            cut = " (cut off at the token limit)" if reply.finish_reason == "length" else ""
            raise PlanError(f"The answer is not TaskBench JSON{cut}: {exc}.", issues=[text[:300]]) from None
        return PlanOutcome(plan=result_to_plan(result), planner=self.name, notes=[], raw=text)
