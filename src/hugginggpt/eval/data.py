"""TaskBench gold samples: loading and normalizing the quirks of the released data, never crashing on a sample.

Every repair is counted in a ``NormalizationReport`` (kind -> count, with a few sample ids each), so a run says
how much of the gold it had to fix. Two views of each sample's nodes are kept:

- ``raw_nodes``: structurally normalized (arguments as a list of strings, references as ``<node-j>``) with the
  names as the file gives them (``_`` read as a space, as TaskBench's script does): the gold of the *original* rule;
- ``nodes``: the same, with names outside the tool list mapped onto a tool where that is unambiguous (same name
  up to case and punctuation, or a ``taskbench:`` alias in our registry that lands on exactly one tool): the gold
  of our (strict) rule.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..tasks import TaskRegistry, default_registry
from .tools import ToolList

log = logging.getLogger(__name__)

SAMPLE_TYPES = ("single", "chain", "dag")
NODE_REF = re.compile(r"<node-(\d+)>")
_EXACT_REF = re.compile(r"^\s*<node-(\d+)>\s*$")
_NODE_VARIANT = re.compile(r"^\s*<\s*node[-_ ]?(\d+)(?:[-_. ][^<>]*)?>\s*$", re.I)  # <node-0-output-image>
_OUTPUT_OF = re.compile(r"^\s*<\s*(?:output[ _-]?of[ _-]?(.+?)|(.+?)[ _-]output)\s*>\s*$", re.I)
_PLACEHOLDER = re.compile(r"^\s*<([^<>]+)>\s*$")
_MEDIA_WORDS = {"image": ("image", "img", "picture", "photo", "frame"), "audio": ("audio", "sound", "speech", "voice"),
                "video": ("video", "clip", "movie"), "text": ("text", "summary", "summarized", "transcript", "caption")}


@dataclass
class Node:
    """One node in TaskBench form: a tool name and its arguments (literals or ``<node-j>``)."""

    task: str
    arguments: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "arguments": list(self.arguments)}


@dataclass
class Sample:
    """A normalized gold sample."""

    id: str
    type: str  # single / chain / dag / unknown
    instruction: str
    nodes: list[Node]  # names mapped onto the tool list where unambiguous (strict rule)
    raw_nodes: list[Node]  # names as in the file (original rule)
    links: list[tuple[str, str]] = field(default_factory=list)
    n_tools: int | None = None


@dataclass
class NormalizationReport:
    """What the normalizer had to repair: kind -> count, plus up to 5 sample ids per kind."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    samples: int = 0
    skipped: int = 0
    touched: set[str] = field(default_factory=set)

    def add(self, kind: str, sample_id: str, n: int = 1) -> None:
        self.counts[kind] += n
        self.touched.add(sample_id)
        ids = self.examples.setdefault(kind, [])
        if len(ids) < 5 and sample_id not in ids:
            ids.append(sample_id)

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "skipped": self.skipped, "samples_touched": len(self.touched),
                "counts": dict(sorted(self.counts.items())), "examples": self.examples}


# -- arguments ---------------------------------------------------------------------------------------------------


def _scalar(value: Any, sid: str, report: NormalizationReport) -> str | None:
    """One argument as a string (numbers, objects and lists as TaskBench's script would read them)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        report.add("numeric_argument", sid)
        return json.dumps(value) if isinstance(value, bool) else str(value)
    if isinstance(value, dict):
        report.add("argument_object", sid)
        if "value" in value:  # {"name": ..., "value": ...}
            return _scalar(value["value"], sid, report)
        return _scalar(next(iter(value.values())), sid, report) if value else None
    if isinstance(value, list):
        report.add("argument_list", sid)
        parts = [_scalar(v, sid, report) for v in value]
        return " ".join(p for p in parts if p is not None)
    if value is None:
        report.add("argument_null_dropped", sid)
        return None
    report.add("argument_other", sid)
    return str(value)


def _arguments(node: dict[str, Any], sid: str, report: NormalizationReport) -> list[str]:
    if "arguments" in node:
        raw = node["arguments"]
    elif "parameters" in node:
        report.add("parameters_instead_of_arguments", sid)
        raw = node["parameters"]
    elif "args" in node:
        report.add("args_instead_of_arguments", sid)
        raw = node["args"]
    else:
        report.add("arguments_missing", sid)
        raw = []
    if isinstance(raw, str):
        report.add("arguments_string", sid)
        items: list[Any] = [raw]
    elif isinstance(raw, dict):
        report.add("arguments_object", sid)
        items = [raw] if "value" in raw and "name" in raw else list(raw.values())
    elif isinstance(raw, list):
        items = raw
    elif raw is None:
        items = []
    else:
        report.add("arguments_scalar", sid)
        items = [raw]
    out = [_scalar(v, sid, report) for v in items]
    return [v for v in out if v is not None]


# -- nodes, names, links -----------------------------------------------------------------------------------------


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _node_list(raw: Any, sid: str, report: NormalizationReport) -> list[Node]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
            report.add("task_nodes_json_string", sid)
        except json.JSONDecodeError:
            report.add("task_nodes_unreadable", sid)
            return []
    if isinstance(raw, dict):
        report.add("task_nodes_single_object", sid)
        raw = [raw]
    if raw is None:
        report.add("task_nodes_missing", sid)
        return []
    if not isinstance(raw, list):
        report.add("task_nodes_unreadable", sid)
        return []
    nodes = []
    for item in raw:
        if isinstance(item, str):
            report.add("node_as_string", sid)
            item = {"task": item, "arguments": []}
        if not isinstance(item, dict) or not isinstance(item.get("task", item.get("name")), str):
            report.add("node_without_task_dropped", sid)
            continue
        if "task" not in item:
            report.add("node_name_key", sid)
        extra = set(item) - {"task", "arguments", "parameters", "args", "name"}
        if extra:
            report.add("extra_node_keys", sid)
        name = str(item.get("task", item.get("name"))).strip()
        if "_" in name:
            report.add("name_underscore", sid)
            name = name.replace("_", " ")
        nodes.append(Node(name, _arguments(item, sid, report)))
    return nodes


def _links(raw: Any, nodes: list[Node], sid: str, report: NormalizationReport) -> list[tuple[str, str]]:
    if not isinstance(raw, list):
        if raw not in (None, []):
            report.add("task_links_unreadable", sid)
        return []
    names = [n.task for n in nodes]
    out = []
    for link in raw:
        if not isinstance(link, dict) or "source" not in link or "target" not in link:
            report.add("link_dropped", sid)
            continue
        if set(link) - {"source", "target"}:
            report.add("extra_link_keys", sid)
        ends = []
        for end in (link["source"], link["target"]):
            if isinstance(end, int) and not isinstance(end, bool):
                report.add("link_by_index", sid)
                ends.append(names[end] if 0 <= end < len(names) else None)
            elif isinstance(end, str) and end.replace("_", " ") in names:
                ends.append(end.replace("_", " "))
            elif isinstance(end, str):
                close = difflib.get_close_matches(end, names, n=1, cutoff=0.6)
                report.add("link_name_fixed" if close else "link_dropped", sid)
                ends.append(close[0] if close else None)
            else:
                ends.append(None)
        if ends[0] is not None and ends[1] is not None:
            out.append((ends[0], ends[1]))
    return out


def _resolve_refs(nodes: list[Node], links: list[tuple[str, str]], tools: ToolList | None, sid: str,
                  report: NormalizationReport) -> None:
    """Rewrite ``<output_of_X>`` and other ``<placeholder>`` references into ``<node-j>`` where resolvable."""
    for i, node in enumerate(nodes):
        for a, value in enumerate(node.arguments):
            m = _EXACT_REF.match(value)
            if m:
                if int(m.group(1)) >= len(nodes):
                    report.add("dangling_node_ref", sid)
                continue
            if NODE_REF.search(value):
                report.add("embedded_node_ref", sid)  # scored as a reference, as TaskBench does
                continue
            variant = _NODE_VARIANT.match(value)
            if variant and int(variant.group(1)) < len(nodes):
                node.arguments[a] = f"<node-{int(variant.group(1))}>"
                report.add("node_ref_variant", sid)
                continue
            out = _OUTPUT_OF.match(value)
            if out:
                target = _key(out.group(1) or out.group(2))
                cands = [j for j, n in enumerate(nodes) if j != i and _key(n.task) == target]
                if cands:
                    before = [j for j in cands if j < i]
                    node.arguments[a] = f"<node-{before[-1] if before else cands[0]}>"
                    report.add("output_of_ref", sid)
                    continue
            if _PLACEHOLDER.match(value):
                j = _placeholder_source(i, value, nodes, links, tools)
                if j is not None:
                    node.arguments[a] = f"<node-{j}>"
                    report.add("placeholder_ref_resolved", sid)
                else:
                    report.add("placeholder_ref_unresolved", sid)


def _placeholder_source(i: int, value: str, nodes: list[Node], links: list[tuple[str, str]],
                        tools: ToolList | None) -> int | None:
    """The node a placeholder like ``<summarized_text>`` stands for: a linked source not yet referenced."""
    used = {int(m.group(1)) for v in nodes[i].arguments for m in [_EXACT_REF.match(v)] if m}
    names = [n.task for n in nodes]
    sources = []
    for s, t in links:
        if t != nodes[i].task:
            continue
        for j, n in enumerate(names):
            if n == s and j != i and j not in used and j not in sources:
                sources.append(j)
    if len(sources) <= 1:
        return sources[0] if sources else None
    word = value.lower()
    for media, words in _MEDIA_WORDS.items():
        if any(w in word for w in words):
            hits = [j for j in sources if media in _outputs(names[j], tools)]
            if len(hits) == 1:
                return hits[0]
    return None


def _outputs(name: str, tools: ToolList | None) -> tuple[str, ...]:
    tool = tools.get(name) if tools is not None else None
    return tool.media_outputs if tool else ()


def _map_names(nodes: list[Node], tools: ToolList | None, registry: TaskRegistry, sid: str,
               report: NormalizationReport) -> list[Node]:
    if tools is None:
        return [Node(n.task, list(n.arguments)) for n in nodes]
    by_task: dict[str, list[str]] = {}
    for t in tools:
        ours = registry.canonical(t.name)
        if ours:
            by_task.setdefault(ours, []).append(t.name)
    out = []
    for n in nodes:
        name = n.task
        if name not in tools:
            fixed = tools.match(name)
            if fixed:
                report.add("name_spelling_fixed", sid)
            else:
                ours = registry.canonical(name)
                cands = by_task.get(ours or "", [])
                if len(cands) == 1:
                    fixed = cands[0]
                    report.add("name_alias_mapped", sid)
                else:
                    report.add("name_outside_tool_list", sid)
            name = fixed or name
        out.append(Node(name, list(n.arguments)))
    return out


def _one_based_refs(nodes: list[Node], raw: list[Node], links: list[tuple[str, str]], sid: str,
                    report: NormalizationReport) -> list[Node]:
    """Strict gold only: references written 1-based (``<node-1>`` for the first node) shifted to 0-based.

    Applied only with the sample's own evidence: at least one node references itself, every reference shifted by
    one lands on another existing node, and the sample's ``task_links`` contain every edge the shifted references
    give (checked on ``raw``, the nodes under the file's own names, as the links use them). Otherwise the nodes
    are returned unchanged.
    """
    refs = [(i, int(m.group(1))) for i, n in enumerate(nodes) for a in n.arguments for m in NODE_REF.finditer(a)]
    if not refs or not any(i == j for i, j in refs):
        return nodes
    if not all(0 <= j - 1 < len(nodes) and j - 1 != i for i, j in refs):
        return nodes
    linked = set(links)
    if not linked or not all((raw[j - 1].task, raw[i].task) in linked for i, j in refs):
        return nodes
    report.add("one_based_refs_shifted", sid)
    shift = lambda a: NODE_REF.sub(lambda m: f"<node-{int(m.group(1)) - 1}>", a)  # noqa: E731
    return [Node(n.task, [shift(a) for a in n.arguments]) for n in nodes]


# -- samples -----------------------------------------------------------------------------------------------------


def normalize_sample(raw: Any, tools: ToolList | None, report: NormalizationReport, *, line: int = 0,
                     registry: TaskRegistry | None = None) -> Sample | None:
    """One gold record as a ``Sample``; None (counted as skipped) when it has no request to plan."""
    if not isinstance(raw, dict):
        report.skipped += 1
        report.add("record_not_an_object", f"line {line}")
        return None
    sid = str(raw.get("id", f"line {line}"))
    instruction = raw.get("instruction")
    if not isinstance(instruction, str):
        instruction = raw.get("user_request")
        if isinstance(instruction, str):
            report.add("user_request_key", sid)
    if not isinstance(instruction, str) or not instruction.strip():
        report.skipped += 1
        report.add("skipped_no_instruction", sid)
        return None
    nodes_raw = raw.get("task_nodes", raw.get("tool_nodes"))
    links_raw = raw.get("task_links", raw.get("tool_links"))
    if "task_nodes" not in raw and "tool_nodes" in raw:
        report.add("tool_keys", sid)
    nodes = _node_list(nodes_raw, sid, report)
    links = _links(links_raw, nodes, sid, report)
    _resolve_refs(nodes, links, tools, sid, report)
    kind = raw.get("type")
    if kind not in SAMPLE_TYPES:
        report.add("type_unknown", sid)
        kind = "unknown"
    n_tools = raw.get("n_tools")
    if not isinstance(n_tools, int) or isinstance(n_tools, bool):
        n_tools = None
    elif n_tools != len(nodes):
        report.add("n_tools_mismatch", sid)
    mapped = _map_names(nodes, tools, registry or default_registry(), sid, report)
    mapped = _one_based_refs(mapped, nodes, links, sid, report)
    report.samples += 1
    return Sample(id=sid, type=kind, instruction=instruction, nodes=mapped,
                  raw_nodes=[Node(n.task, list(n.arguments)) for n in nodes], links=links, n_tools=n_tools)


def normalize_records(records: Iterable[Any], tools: ToolList | None,
                      report: NormalizationReport | None = None) -> tuple[list[Sample], NormalizationReport]:
    """Normalize parsed records (see ``normalize_sample``)."""
    report = report or NormalizationReport()
    samples = []
    for i, rec in enumerate(records, 1):
        s = normalize_sample(rec, tools, report, line=i)
        if s is not None:
            samples.append(s)
    return samples, report


def load_samples(path: str | Path, tools: ToolList | None, limit: int | None = None, skip: int = 0
                 ) -> tuple[list[Sample], NormalizationReport]:
    """Read a TaskBench JSONL file (the first ``limit`` usable samples after its first ``skip`` lines). Unreadable
    lines are counted, skipped."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read the data file {p}: {exc.strerror}.",
                          hint="Pass --data <domain>_dev.jsonl from the TaskBench data.") from None
    report = NormalizationReport()
    samples: list[Sample] = []
    for i, line in enumerate(lines[skip:], skip + 1):
        if limit is not None and len(samples) >= limit:
            break
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            report.skipped += 1
            report.add("line_not_json", f"line {i}")
            continue
        s = normalize_sample(rec, tools, report, line=i)
        if s is not None:
            samples.append(s)
    if not samples:
        raise ConfigError(f"No usable samples in {p}.", hint="Expected one JSON object a line with an instruction.")
    return samples, report
