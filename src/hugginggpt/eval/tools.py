"""A benchmark's tool list (``ToolSpec``) and how planners plan over it (``ToolBinding``).

TaskBench describes each domain by a ``tool_desc.json``: ``{"nodes": [{"id", "desc", "input-type",
"output-type"}]}`` for the resource domains (huggingface, multimedia) or ``{"id", "desc", "parameters"}`` for
dailylifeapis. ``load_tools`` reads either into a ``ToolList``.

Planners plan over a ``TaskRegistry`` (``PlanContext.registry``). ``bind_tools`` turns a tool list into one:

- ``names="registry"`` (default): a tool with a unique equivalent in our registry (``tasks.yaml``'s ``taskbench:``
  aliases, e.g. ``Automatic Speech Recognition`` -> ``automatic-speech-recognition``) is offered under our task,
  with our slots and description, so planners' lexicons, demos and prompts keep working; every other tool
  (``Video Stabilizer``, ``URL Extractor`` ...) is offered under its own name with slots made from its input
  types;
- ``names="native"``: every tool under its own name.

Either way the planner sees exactly the domain's tools, and ``ToolBinding.tool_name`` maps each planned task name
back to the tool name that TaskBench scores.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ..tasks import MEDIA_TYPES, Slot, TaskRegistry, TaskType, default_registry


@dataclass(frozen=True)
class ToolParameter:
    """A named parameter of a dailylifeapis tool."""

    name: str
    type: str = "string"
    description: str = ""


@dataclass(frozen=True)
class ToolSpec:
    """One tool of a benchmark domain: its name, description and typed inputs/outputs (or named parameters).

    ``input_types`` / ``output_types`` are as the file gives them (``url`` and ``Image`` occur in multimedia);
    ``media_inputs`` / ``media_outputs`` map them onto our media types (text, image, audio, video).
    """

    name: str
    description: str = ""
    input_types: tuple[str, ...] = ()
    output_types: tuple[str, ...] = ()
    parameters: tuple[ToolParameter, ...] = ()

    @classmethod
    def from_json(cls, node: dict[str, Any]) -> ToolSpec:
        """Read one ``nodes`` entry of ``tool_desc.json`` (either domain flavour)."""
        name = node.get("id") or node.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a tool without an id: {node!r}"[:200])
        params = []
        for p in node.get("parameters") or []:
            if isinstance(p, dict):
                params.append(ToolParameter(str(p.get("name", "")), str(p.get("type", "string")),
                                            str(p.get("desc", p.get("description", "")))))
            else:  # TaskBench's inference script flattens parameters to their names
                params.append(ToolParameter(str(p)))
        return cls(name=name.strip(), description=str(node.get("desc", node.get("description", ""))),
                   input_types=tuple(str(t) for t in node.get("input-type") or ()),
                   output_types=tuple(str(t) for t in node.get("output-type") or ()),
                   parameters=tuple(params))

    def to_json(self) -> dict[str, Any]:
        """The TaskBench form of the tool (what a prompt shows as one JSON line)."""
        out: dict[str, Any] = {"id": self.name, "desc": self.description}
        if self.parameters:
            out["parameters"] = [{"name": p.name, "type": p.type, "desc": p.description} for p in self.parameters]
        else:
            out["input-type"] = list(self.input_types)
            out["output-type"] = list(self.output_types)
        return out

    @property
    def output_type(self) -> str:
        """The argument name TaskBench gives a ``<node-j>`` reference to this tool: its first output type."""
        return self.output_types[0] if self.output_types else "none"

    @property
    def media_inputs(self) -> tuple[str, ...]:
        if self.parameters and not self.input_types:
            return tuple("text" for _ in self.parameters)
        return tuple(to_media(t) for t in self.input_types)

    @property
    def media_outputs(self) -> tuple[str, ...]:
        return tuple(to_media(t) for t in self.output_types) or ("text",)


def to_media(type_name: str) -> str:
    """Our media type of a TaskBench type name: ``Image`` -> image; ``url``, ``string``, ``date`` ... -> text."""
    t = type_name.strip().lower()
    return t if t in MEDIA_TYPES else "text"


class ToolList:
    """The tools of one domain, in file order (TaskBench's tool index is the 1-based position). Indexed and iterated
    like a list of ``ToolSpec``; ``in`` and ``index`` take a tool name."""

    def __init__(self, tools: Sequence[ToolSpec], domain: str = "") -> None:
        self.tools = list(tools)
        self.domain = domain
        self._by_name = {t.name: t for t in self.tools}
        self._index = {t.name: i + 1 for i, t in enumerate(self.tools)}

    def __getitem__(self, i: int) -> ToolSpec:
        return self.tools[i]

    def __len__(self) -> int:
        return len(self.tools)

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self.tools)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._by_name

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tools]

    @property
    def typed(self) -> bool:
        """Whether the tools have input/output types (the resource domains) rather than parameters."""
        return any(t.input_types or t.output_types for t in self.tools)

    def get(self, name: str) -> ToolSpec | None:
        return self._by_name.get(name)

    def index(self, name: str) -> int:
        """TaskBench's tool index (1-based), 0 for a name outside the list."""
        return self._index.get(name, 0)

    def output_type_of(self, name: str) -> str:
        """First output type of a tool; ``"other"`` for a name outside the list (as TaskBench does)."""
        tool = self._by_name.get(name)
        return tool.output_type if tool else "other"

    def match(self, name: str) -> str | None:
        """The tool whose name equals ``name`` up to case, spaces and punctuation (``image to text``)."""
        key = _key(name)
        hits = [t.name for t in self.tools if _key(t.name) == key]
        return hits[0] if len(hits) == 1 else None


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def load_tools(path: str | Path, domain: str | None = None) -> ToolList:
    """Read a TaskBench ``tool_desc.json`` (``{"nodes": [...]}`` or a bare list). Raises ``ConfigError``."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read the tool list {p}: {exc.strerror}.",
                          hint="Pass --tools data_<domain>/tool_desc.json from the TaskBench data.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"The tool list {p} is not JSON ({exc.msg}, line {exc.lineno}).") from None
    nodes = raw.get("nodes") if isinstance(raw, dict) else raw
    if not isinstance(nodes, list) or not nodes:
        raise ConfigError(f"The tool list {p} has no tools.", hint='Expected {"nodes": [{"id", "desc", ...}]}.')
    try:
        tools = [ToolSpec.from_json(n) for n in nodes if isinstance(n, dict)]
    except ValueError as exc:
        raise ConfigError(f"Bad tool in {p}: {exc}") from None
    if not tools:
        raise ConfigError(f"The tool list {p} has no tool objects.", hint='Expected {"nodes": [{"id", "desc"}]}.')
    dup = [n for n, c in Counter(t.name for t in tools).items() if c > 1]
    if dup:
        raise ConfigError(f"The tool list {p} names tools twice: {', '.join(dup)}.")
    if domain is None:
        domain = p.parent.name.removeprefix("data_") if p.parent.name.startswith("data_") else p.stem
    return ToolList(tools, domain=domain)


# -- planning over a tool list ----------------------------------------------------------------------------------


@dataclass
class ToolBinding:
    """A planning registry made from a tool list, and the way back from planned task names to tool names."""

    tools: ToolList
    registry: TaskRegistry
    name_of: dict[str, str]  # registry task name -> tool name
    base: TaskRegistry | None = None
    reused: dict[str, str] = field(default_factory=dict)  # tool name -> our task it is offered as

    def tool_name(self, task: str) -> str:
        """The tool name a planned task scores as. A name the binding does not know is mapped through our
        registry's aliases when that lands on exactly one tool of the list, else kept (it then scores as a tool
        outside the list)."""
        if task in self.name_of:
            return self.name_of[task]
        if task in self.tools:
            return task
        if self.base is not None:
            ours = self.base.canonical(task)
            if ours is not None and ours in self.name_of:
                return self.name_of[ours]
        return self.tools.match(task) or task


def tool_task_type(tool: ToolSpec) -> TaskType:
    """A registry task for a tool, named as the tool, with one slot per input type (``image``, ``image2`` ...)."""
    slots: list[Slot] = []
    if tool.parameters and not tool.input_types:
        slots = [Slot(name=p.name or f"arg{i}", type="text", required=True) for i, p in enumerate(tool.parameters)]
    else:
        seen: Counter[str] = Counter()
        for raw, media in zip(tool.input_types, tool.media_inputs, strict=True):
            base = raw.strip().lower() or media
            seen[base] += 1
            slots.append(Slot.model_validate({"name": base if seen[base] == 1 else f"{base}{seen[base]}",
                                              "type": media}))
    outputs = list(dict.fromkeys(tool.media_outputs))
    return TaskType.model_validate({"name": tool.name, "description": tool.description or tool.name,
                                    "inputs": slots, "outputs": outputs, "taskbench": [tool.name]})


def bind_tools(tools: ToolList, base: TaskRegistry | None = None,
               names: Literal["registry", "native"] = "registry") -> ToolBinding:
    """The registry a planner should plan over for ``tools`` (see the module docstring for ``names``)."""
    base = base if base is not None else default_registry()
    claimed: dict[str, str] = {}  # our task -> tool
    if names == "registry":
        by_task: dict[str, list[str]] = {}
        for tool in tools:
            ours = base.canonical(tool.name)
            if ours is not None:
                by_task.setdefault(ours, []).append(tool.name)
        for ours, candidates in by_task.items():
            # Several tools may alias one task (Text Paraphraser, Text Simplifier -> text2text-generation): the
            # registry's own alias order decides which one the task stands for; the others stay separate tools.
            order = [_key(a) for a in [ours, *base.get(ours).taskbench]]
            best = min(candidates, key=lambda n: order.index(_key(n)) if _key(n) in order else len(order))
            claimed[ours] = best
    elif names != "native":
        raise ConfigError(f"Unknown tool naming {names!r}.", hint="Use `registry` or `native`.")
    reused = {tool: ours for ours, tool in claimed.items()}
    task_types: list[TaskType] = []
    name_of: dict[str, str] = {}
    for tool in tools:
        if tool.name in reused:
            ours = reused[tool.name]
            # Its aliases are narrowed to this tool, so the other tools of the domain keep their own names.
            task_types.append(base.get(ours).model_copy(update={"taskbench": [tool.name]}))
            name_of[ours] = tool.name
        else:
            task_types.append(tool_task_type(tool))
            name_of[tool.name] = tool.name
    return ToolBinding(tools=tools, registry=TaskRegistry(task_types), name_of=name_of, base=base, reused=reused)
