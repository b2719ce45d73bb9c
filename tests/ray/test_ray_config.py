"""The Ray engine's switches, without starting Ray: the CLI flags and the environment choose it, a missing Ray is a
ConfigError that gives the pip line, and calls of in-process backends (the controller LLM) never reach Ray."""

from __future__ import annotations

import asyncio
import sys

import pytest
import typer

from hugginggpt.backends.embedded import EmbeddedBackend
from hugginggpt.backends.llm import LLMBackend
from hugginggpt.catalog.cards import Catalog
from hugginggpt.cli import _config
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.errors import ConfigError
from hugginggpt.execution.calls import ExpertCall
from hugginggpt.execution.engine import make_executor
from hugginggpt.execution.ray_engine import RayEngine, import_ray
from hugginggpt.execution.ray_executor import RayExecutor
from hugginggpt.execution.runner import ThreadExecutor
from hugginggpt.experts.pool import ExpertPool
from llm_doubles import ScriptedLLM


def test_cli_flags_choose_the_engine_and_the_cluster(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _config(None, None, None, None, None, False).execution.engine == "threads"  # the default
    ray = _config(None, None, None, None, None, False, engine="ray", ray_address="auto").execution
    assert (ray.engine, ray.ray_address) == ("ray", "auto")
    assert _config(None, None, None, None, None, False, ray_address="ray://head:10001").execution.engine == "ray"
    with pytest.raises(typer.BadParameter):
        _config(None, None, None, None, None, False, engine="dask")


def test_the_environment_chooses_the_engine(monkeypatch) -> None:
    monkeypatch.setenv("HUGGINGGPT_EXECUTION__ENGINE", "ray")
    monkeypatch.setenv("HUGGINGGPT_EXECUTION__RAY_ADDRESS", "auto")
    settings = HuggingGPTConfig().execution
    assert (settings.engine, settings.ray_address) == ("ray", "auto")


def test_without_ray_the_engine_is_a_config_error_with_the_pip_line(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where the extra is not installed
    with pytest.raises(ConfigError) as caught:
        import_ray()
    assert "pip install 'hugginggpt[ray]'" in caught.value.hint
    pool = ExpertPool()
    with pytest.raises(ConfigError):
        make_executor(HuggingGPTConfig(execution={"engine": "ray"}, cache=False), pool,
                      {"embedded": EmbeddedBackend(pool)}, Catalog([]), {})


def test_in_process_backends_run_in_the_controller_and_never_start_ray(tmp_path) -> None:
    llm = ScriptedLLM("A short poem about the sea, in three lines.", capable=False)
    backend = LLMBackend(llm)
    assert LLMBackend.in_process and not getattr(EmbeddedBackend, "in_process", False)
    card = next(c for c in backend.cards() if c.task == "text-generation")
    pool = ExpertPool()
    engine = RayEngine(HuggingGPTConfig(execution={"engine": "ray"}))
    threads = ThreadExecutor(pool, {"llm": backend}, lambda mid, task: {card.id: card}[mid])
    executor = RayExecutor(engine, threads, {"llm": backend}, lambda mid, task: {card.id: card}.get(mid))
    call = ExpertCall(task_id=0, task="text-generation", model_id=card.id, backend="llm",
                      inputs={"text": "write a poem about the sea"}, request="write a poem about the sea")
    reply = asyncio.run(executor.call(call))
    assert reply.worker == "thread" and "sea" in reply.outputs[0].text
    assert engine._ray is None and len(llm.calls) == 1  # Ray was never initialised
