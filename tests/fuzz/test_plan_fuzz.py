"""Property-based fuzzing of planner input: every hostile plan ends as a valid plan or a named ``PlanError``.

Four properties, 11,200 generated plans and 400 agent runs (1-3 plan answers each), derandomized so that CI sees
the same examples every time. Each hypothesis example checks a batch of independently drawn plans (hypothesis costs
about a millisecond per example whatever it draws, so batches keep the whole file near half a minute on two
cores); every plan is timed on its own and must take under 1 s, and every example is also under hypothesis's 1 s
``deadline``:

- plans as Python structures through ``repair_plan`` -> ``validate_plan`` (1,000 examples x 5 plans);
- plans as LLM text through ``parse_plan_output`` -> ``repair_plan`` -> ``validate_plan`` (1,000 x 5);
- plans at the size limits: chains around ``max_plan_tasks`` and arguments listing many references (400 x 3);
- the whole agent, ``HuggingGPT.arun`` with ``planner="llm"`` over ``HostileLLM`` (a labelled test double built on
  ``ScriptedLLM``) answering the planning calls with hostile text, sometimes marked cut off (400 runs).

The outcome counts are logged (``-o log_cli=true`` shows them); ``benchmarks/plan_fuzz.py`` prints the same table
over any number of examples.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from plan_strategies import (
    NAMED_CODES,
    HostileLLM,
    big_plans,
    build_hostile_agent,
    judge,
    plan_answers,
    plan_texts,
    plan_values,
    requests,
    run_agent,
)

from hugginggpt import errors
from hugginggpt.agent import HuggingGPT

log = logging.getLogger(__name__)

FUZZ = settings(deadline=1000, derandomize=True, database=None, print_blob=True,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@pytest.fixture
def tally() -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    yield counts
    log.info("plan fuzz outcomes: %s", dict(counts))


def _record(counts: Counter[str], kind: str, seconds: float) -> None:
    assert seconds < 1.0, f"one plan took {seconds:.2f} s"
    counts["cases"] += 1
    counts[kind] += 1
    counts["max_ms"] = max(counts["max_ms"], round(seconds * 1000))


def test_fuzz_python_structures(tally: Counter[str]) -> None:
    @settings(FUZZ, max_examples=1000)
    @given(st.lists(plan_values, min_size=5, max_size=5))
    def check(batch: list[Any]) -> None:
        for raw in batch:
            out = judge(raw, text=False)
            _record(tally, out.kind, out.seconds)

    check()
    assert tally["cases"] >= 5000
    assert tally["rejected"] and tally["repaired"] and tally["valid"], tally  # every way out was exercised


def test_fuzz_llm_text(tally: Counter[str]) -> None:
    @settings(FUZZ, max_examples=1000)
    @given(st.lists(plan_texts(), min_size=5, max_size=5))
    def check(batch: list[str]) -> None:
        for text in batch:
            out = judge(text, text=True)
            _record(tally, out.kind, out.seconds)

    check()
    assert tally["cases"] >= 5000
    assert tally["rejected"] and tally["repaired"], tally


def test_fuzz_size_limits(tally: Counter[str]) -> None:
    @settings(FUZZ, max_examples=400)
    @given(st.lists(st.tuples(big_plans(), st.integers(1, 80), st.booleans()), min_size=3, max_size=3))
    def check(batch: list[tuple[list[dict[str, Any]], int, bool]]) -> None:
        for raw, cap, as_text in batch:
            out = judge(json.dumps(raw) if as_text else raw, text=as_text, max_tasks=cap)
            _record(tally, out.kind, out.seconds)
            if out.kind == "rejected" and isinstance(out.error, errors.PlanTooLarge):
                assert f"limit is {cap}" in out.error.message  # the error names the limit
            if out.plan is not None:
                assert len(out.plan.tasks) <= cap

    check()
    assert tally["cases"] >= 1200 and tally["rejected"] and tally["valid"], tally


# -- the whole agent ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_agent(tmp_path_factory: pytest.TempPathFactory) -> tuple[HuggingGPT, HostileLLM]:
    return build_hostile_agent(tmp_path_factory.mktemp("fuzz-agent"))


def test_fuzz_whole_agent_with_hostile_llm_plans(hostile_agent: tuple[HuggingGPT, HostileLLM],
                                                  tally: Counter[str]) -> None:
    agent, llm = hostile_agent

    @settings(FUZZ, max_examples=400)
    @given(requests, st.lists(plan_answers, min_size=1, max_size=3))
    def check(request: str, answers: list[tuple[str, str]]) -> None:
        result = run_agent(agent, llm, request, answers)
        code = result.error.code if result.error else "ok"
        _record(tally, code, result.timings.get("total", 0.0))
        tally["agent_runs"] += 1
        tally[f"tasks_{'ran' if any(r.status == 'ok' for r in result.results) else 'none_ran'}"] += 1
        assert result.error is None or result.error.code in NAMED_CODES, result.error
        if llm.plan_reasons and set(llm.plan_reasons) == {"length"}:
            # Every planning answer was cut off: nothing may run.
            assert result.error is not None and result.error.code == "plan_error" and not result.results

    check()
    assert tally["agent_runs"] >= 400
    assert tally["ok"] and tally["plan_error"] and tally["tasks_ran"], tally
    assert Path(agent.config.workspace).exists()
