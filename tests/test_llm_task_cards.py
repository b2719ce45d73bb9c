"""The controller LLM serves several tasks under one model id: each task must run with its own card's prompt."""

from __future__ import annotations

import asyncio

from hugginggpt.backends.llm import LLMBackend
from hugginggpt.catalog.cards import Catalog
from hugginggpt.execution.calls import ExpertCall
from hugginggpt.execution.runner import ThreadExecutor
from hugginggpt.experts.pool import ExpertPool
from llm_doubles import ScriptedLLM


def test_each_llm_task_runs_with_the_prompt_of_its_own_card() -> None:
    # Stands in for a capable controller LLM (none can be installed here), to read the prompts it is sent.
    llm = ScriptedLLM("Bonjour tout le monde.", "Once upon a time there was a lighthouse.", "Hi! How are you?")
    backend = LLMBackend(llm)
    catalog = Catalog(backend.cards())
    executor = ThreadExecutor(ExpertPool(), {"llm": backend}, catalog.card_for)
    model_id = catalog.for_task("translation")[0].id
    for task, text in (("translation", "Hello everyone."), ("text-generation", "a story about a lighthouse"),
                       ("conversational", "hi there")):
        call = ExpertCall(task_id=0, task=task, model_id=model_id, backend="llm", inputs={"text": text},
                          request=f"please do {task}: {text}")
        asyncio.run(executor.call(call))
    systems = [c["messages"][0]["content"] for c in llm.calls]
    assert "translator" in systems[0] and "writer" in systems[1] and "assistant" in systems[2]
    assert catalog.card_for(model_id, "text-generation").task == "text-generation"
    assert catalog.card_for(model_id, "no-such-task") is catalog.get(model_id)  # unknown task: the id's card
    assert catalog.card_for("no/such-model", "translation") is None
