"""Model selection over the real catalog and backends; the responder's grounding rules; chat resource memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hugginggpt.artifacts import ArtifactStore
from hugginggpt.backends.embedded import EmbeddedBackend
from hugginggpt.backends.llm import LLMBackend
from hugginggpt.catalog.cards import Catalog, hub_cards
from hugginggpt.catalog.selector import Selector
from hugginggpt.errors import ModelSelectionError
from hugginggpt.experts.pool import ExpertPool
from hugginggpt.grounding import invented_paths
from hugginggpt.history import known_resources
from hugginggpt.planning import repair_plan
from hugginggpt.respond import deterministic_answer
from hugginggpt.results import ModelChoice, RunResult, TaskResult
from hugginggpt.tasks import default_registry
from llm_doubles import ScriptedLLM

REG = default_registry()


def test_hub_catalog_is_facts_only():
    cards = hub_cards()
    assert len(cards) == 673
    assert len({c.task for c in cards}) == 24
    finbert = next(c for c in cards if c.id == "ProsusAI/finbert")
    assert finbert.task == "text-classification" and finbert.downloads > 0 and "sentiment-analysis" in finbert.tags
    assert all(c.description == "" for c in cards)


def selector(overrides=None) -> Selector:
    return Selector(Catalog.default(), [EmbeddedBackend(ExpertPool())], overrides=overrides)


def test_embedded_model_is_chosen_offline():
    plan, _ = repair_plan([{"task": "image-classification", "id": 0, "args": {"image": "a.png"}}], REG)
    choice = selector().select(plan)[0]
    assert isinstance(choice, ModelChoice)
    assert choice.backend == "embedded" and choice.model_id.startswith("hugginggpt/")
    assert choice.reason


def test_task_without_offline_model_names_the_ways_to_serve_it():
    plan, _ = repair_plan([{"task": "translation", "id": 0, "args": {"text": "hello"}},
                           {"task": "text-to-image", "id": 1, "args": {"text": "a cat"}}], REG)
    out = selector().select(plan)
    for tid in (0, 1):
        err = out[tid]
        assert isinstance(err, ModelSelectionError)
        assert "No offline model for" in err.message
        assert "hf-inference" in err.hint and "transformers" in err.hint
    assert "Helsinki-NLP" in out[0].hint or "t5" in out[0].hint.lower()


def test_override_is_respected_when_available():
    cands, _ = selector().candidates("text-to-speech")
    if len(cands) < 2:
        return  # only one TTS expert installed: nothing to override
    forced = cands[-1].card.id
    assert selector({"text-to-speech": forced}).candidates("text-to-speech")[0][0].card.id == forced


class ServesEveryCard:
    """A backend that says it serves every card (as with every hub model cached): the selector's ranking alone
    decides, and every task of the catalog has several candidates."""

    name = "all"

    def can_serve(self, card: object) -> tuple[bool, str]:
        return True, "serves everything"


def _asked_tasks(choice: str) -> tuple[list[str], dict[int, ModelChoice | ModelSelectionError]]:
    plan, _ = repair_plan([{"task": "image-to-text", "id": 0, "args": {"image": "a.png"}},
                           {"task": "text-to-image", "id": 1, "args": {"text": "<GENERATED>-0"}},
                           {"task": "translation", "id": 2, "args": {"text": "<GENERATED>-0"}}], REG)
    catalog = Catalog.default(extra=LLMBackend(ScriptedLLM("{}")).cards())
    llm = ScriptedLLM(json.dumps({"task_1": {"id": "runwayml/stable-diffusion-v1-5", "reason": "popular"}}))
    out = Selector(catalog, [ServesEveryCard()], llm=llm, choice=choice).select(plan, "caption a.png, draw it")
    asked = [] if not llm.calls else list(llm.calls[0]["json_schema"]["properties"])
    assert len(llm.calls) <= 1
    return asked, out


def test_local_first_asks_the_llm_only_where_a_hub_model_ranks_first():
    asked, out = _asked_tasks("local_first")
    assert asked == ["task_1"]  # text-to-image: hub models only; the captioner is embedded, translation is the LLM's
    for tid in (0, 2):
        choice = out[tid]
        assert isinstance(choice, ModelChoice) and "chosen by the LLM" not in choice.reason
        assert len(choice.candidates) > 1  # there was a choice; the local model kept it without a call
    assert out[0].model_id.startswith("hugginggpt/") and out[2].model_id.startswith("llm/")
    assert isinstance(out[1], ModelChoice) and out[1].reason.startswith("chosen by the LLM")


def test_llm_choice_asks_about_every_task_with_candidates():
    asked, _ = _asked_tasks("llm")
    assert asked == ["task_0", "task_1", "task_2"]


def test_unknown_model_choice_is_refused():
    with pytest.raises(ValueError, match="local_first"):
        Selector(Catalog.default(), [], choice="sometimes")


def _run(tmp_path: Path) -> tuple[RunResult, ArtifactStore]:
    store = ArtifactStore(tmp_path)
    plan, _ = repair_plan([{"task": "image-to-text", "id": 0, "args": {"image": "a.png"}},
                           {"task": "text-to-speech", "id": 1, "args": {"text": "<GENERATED>-0"}}], REG)
    cap = store.put_text("a photo of a cat", task_id=0)
    wav = store.put_bytes(b"RIFF0000WAVEfmt ", "audio", ext=".wav", task_id=1)
    choice = ModelChoice(task_id=0, task="image-to-text", model_id="m", backend="embedded", reason="r")
    results = [TaskResult(task=plan.tasks[0], status="ok", outputs=[cap], choice=choice),
               TaskResult(task=plan.tasks[1], status="ok", outputs=[wav])]
    return RunResult(run_id="x", request="r", plan=plan.tasks, results=results), store


def test_deterministic_answer_cites_real_files_and_texts(tmp_path):
    run, _ = _run(tmp_path)
    answer = deterministic_answer(run)
    assert "a photo of a cat" in answer and str(run.results[1].outputs[0].path) in answer
    assert invented_paths(answer, run) == []


def test_invented_paths_are_found(tmp_path):
    run, _ = _run(tmp_path)
    real = run.results[1].outputs[0].path
    text = f"Here is the audio: {real} and the image /tmp/made_up.png and public/images/x.jpg, from cat.png."
    assert invented_paths(text, run) == ["/tmp/made_up.png", "public/images/x.jpg"]


def test_history_memory_finds_user_files_and_cited_artifacts(tmp_path):
    run, store = _run(tmp_path)
    wav = run.results[1].outputs[0].path
    history = [{"role": "user", "content": "describe photos/cat.png please"},
               {"role": "assistant", "content": f"It is a cat. Audio: {wav}. See also /etc/passwd.wav"}]
    known = known_resources(history, store)
    assert [(k.name, k.media, k.origin) for k in known] == [("photos/cat.png", "image", "user"),
                                                            (str(wav), "audio", "history")]


def test_text_output_of_the_previous_answer():
    from hugginggpt.history import text_outputs

    deterministic = ('I split your request into 2 task(s) and ran them:\n0. image-to-text with m/cap: "a red bus"\n'
                     '1. summarization with m/sum: "short \'quoted\' text"\nFiles produced:\n')
    assert text_outputs([{"role": "assistant", "content": deterministic}]) == ["short 'quoted' text"]
    free = [{"role": "assistant", "content": "The photo shows a red bus."}, {"role": "user", "content": "ok"}]
    assert text_outputs(free) == ["The photo shows a red bus."]
    assert text_outputs([{"role": "user", "content": "hi"}]) == []
