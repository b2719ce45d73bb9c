"""Bounds on what a plan may be, checked before anything walks it recursively or runs it.

A plan comes from an LLM (or a caller) and is hostile input: JSON nested thousands of levels deep, numbers of
thousands of digits, a thousand tasks, or one argument listing fifty thousand ``<GENERATED>-k`` references that
``unfold`` would turn into as many tasks. Every check here is iterative and linear in the input, and each failure is a
``PlanTooLarge`` (a ``PlanError``) that names the limit, so the caller gets a named error instead of a
``RecursionError``, an ``OverflowError`` or a run with 50,000 tasks.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import PlanTooLarge, RequestError
from ..plan_schema import Plan

MAX_PLAN_DEPTH = 16  # containers inside containers; a JARVIS plan needs 5 ({"tasks": [{"args": {"k": [..]}}]})
MAX_PLAN_NODES = 100_000  # values in the whole structure (a shared sub-list counts each time it is reached)
MAX_PLAN_TEXT_CHARS = 200_000  # characters of plan text read at all (an LLM plan is a few thousand)
MAX_NUMBER_DIGITS = 1000  # Python refuses to print integers of more than 4300 digits; none belongs in a plan
_MAX_NUMBER_BITS = int(MAX_NUMBER_DIGITS * 3.3219)  # log2(10) bits per digit

_HINT = "The plan is not something to run; ask for fewer steps, or raise the limit if the plan is genuine."


def check_structure(raw: Any, *, max_depth: int = MAX_PLAN_DEPTH, max_nodes: int = MAX_PLAN_NODES) -> None:
    """Raise ``PlanTooLarge`` when ``raw`` (parsed JSON or a Python structure) is nested deeper than ``max_depth``,
    holds more than ``max_nodes`` values, or holds an integer of more than ``MAX_NUMBER_DIGITS`` digits.

    Iterative, and it stops at the first limit crossed, so a self-containing list (``a.append(a)``) or a structure
    that shares one sub-list a million times costs at most ``max_nodes`` steps.
    """
    stack: list[tuple[Any, int]] = [(raw, 0)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > max_nodes:
            raise PlanTooLarge(f"The plan holds more than {max_nodes} values (the limit).", hint=_HINT)
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _MAX_NUMBER_BITS:
                raise PlanTooLarge(f"The plan holds a number of more than {MAX_NUMBER_DIGITS} digits (the limit).",
                                   hint=_HINT)
            continue
        if depth >= max_depth:
            raise PlanTooLarge(f"The plan is nested more than {max_depth} levels deep (the limit is {max_depth}).",
                               hint=_HINT)
        stack.extend((child, depth + 1) for child in children)


def too_many_tasks(count: int, max_tasks: int, what: str = "The plan has") -> PlanTooLarge:
    """The error for a plan of ``count`` tasks over ``max_tasks``."""
    return PlanTooLarge(f"{what} {count} tasks; the limit is {max_tasks} (max_plan_tasks).",
                        hint="Split the request into smaller ones, or raise max_plan_tasks.")


def check_plan_size(plan: Plan, max_tasks: int) -> None:
    """Raise ``PlanTooLarge`` when a finished plan has more than ``max_tasks`` tasks (any planner's plan)."""
    if len(plan.tasks) > max_tasks:
        raise too_many_tasks(len(plan.tasks), max_tasks)


def clean_text(value: str) -> str:
    """``value`` with each lone surrogate (``"\\ud800"``, valid in JSON escapes, unencodable in UTF-8) replaced by
    one U+FFFD, so that a request or a plan argument can be stored, logged and sent to a model."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


_BRACKETS = str.maketrans({c: None for c in map(chr, range(0x80)) if c not in "[]{}"})


def text_depth(text: str) -> int:
    """How deep brackets nest in ``text`` outside JSON strings (as a JSON decoder reading from the start sees it).

    Linear, and fast enough to run before every decode: strings are skipped by the JSON module's own C string
    scanner (an unterminated string ends the text, as it ends the JSON), and the depth is a running sum over the
    remaining brackets, computed in numpy. Unbalanced closers do not lower the depth below zero, so prose before
    the JSON does not hide a flood of ``[`` behind it.
    """
    from json.decoder import scanstring  # type: ignore[attr-defined]  # the C scanner; not in typeshed

    import numpy as np

    outside: list[str] = []
    pos = 0
    while (quote := text.find('"', pos)) != -1:
        outside.append(text[pos:quote])
        try:
            pos = scanstring(text, quote + 1, False)[1]
        except ValueError:  # unterminated: everything after the quote is inside it
            pos = len(text)
            break
    outside.append(text[pos:])
    brackets = "".join(outside).encode("ascii", "ignore").decode("ascii").translate(_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    level = np.concatenate(([0], np.cumsum(steps)))
    # The depth after unbalanced closers are ignored: the running sum minus its lowest point so far.
    return int((level - np.minimum.accumulate(level)).max())


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters but tab, line feed, carriage return


def check_request(request: str | None, max_chars: int) -> str:
    """The request, cleaned and stripped; ``RequestError`` when it is empty or too long.

    Lone surrogates (valid in JSON, not encodable as UTF-8) become U+FFFD and control characters other than tab and
    newlines become spaces: they are what a client may send in a schema-valid string, and they would otherwise fail
    deep inside a tokenizer or a model.
    """
    request = _CONTROL.sub(" ", clean_text(request or "")).strip()
    if not request:
        raise RequestError("The request is empty.", hint="Say what you want done, e.g. 'describe photo.jpg'.")
    if len(request) > max_chars:
        raise RequestError(f"The request is {len(request)} characters long; the limit is {max_chars}.",
                           hint="Shorten it or raise max_request_chars.")
    return request
