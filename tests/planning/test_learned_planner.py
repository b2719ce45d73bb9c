"""The offline planner's learned path: shipped models, ordering and connecting, mapping onto a registry, fallbacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hugginggpt.eval.tools import ToolList, ToolSpec, bind_tools
from hugginggpt.planning.base import PlanContext
from hugginggpt.planning.offline import learned_path
from hugginggpt.planning.offline.assemble import PlannedNode, connect, order
from hugginggpt.planning.offline.features import parse, request_features
from hugginggpt.planning.offline.learned import ToolSig, load_models
from hugginggpt.planning.offline_planner import OfflinePlanner
from hugginggpt.tasks import default_registry

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "taskbench"

ASR = ToolSig("Automatic Speech Recognition", "speech to text", ("audio",), ("text",))
TRANSLATE = ToolSig("Translation", "translate text", ("text",), ("text",))
TTS = ToolSig("Text-to-Speech", "text to speech", ("text",), ("audio",))
VQA = ToolSig("Visual Question Answering", "answer about an image", ("image", "text"), ("text",))


def _model(domain: str):
    found = [m for m in load_models() if m.domain == domain]
    assert found, f"the {domain} model is shipped in planning/offline/data"
    return found[0]


def _bound(domain: str):
    model = _model(domain)
    tools = ToolList([ToolSpec(t.name, t.description, t.inputs, t.outputs) for t in model.tools], domain=domain)
    return bind_tools(tools)


def test_shipped_models_load_with_consistent_shapes():
    models = {m.domain: m for m in load_models()}
    assert set(models) == {"huggingface", "multimedia", "product"}
    assert len(models["huggingface"].labels) == 23 and len(models["multimedia"].labels) == 40
    assert models["product"].labels == default_registry().names  # every task of ours, ControlNet family included
    assert models["product"].combine == "add" and models["huggingface"].combine == "replace"
    for m in models.values():
        assert [t.name for t in m.tools] == m.labels
        assert 0 < m.threshold < 1 and m.alpha != 0
        assert m.edges.sum() > 0 and m.roots.sum() > 0  # order statistics were counted from the training plans


def test_each_registry_gets_its_model():
    # Our registry gets the product model (added to the rules); a registry bound to a TaskBench tool list gets the
    # model trained on that list, although the product model's labels (our task names) cover it as well.
    assert learned_path.choose_model(default_registry()).domain == "product"
    assert learned_path.choose_model(_bound("huggingface").registry).domain == "huggingface"
    assert learned_path.choose_model(_bound("multimedia").registry).domain == "multimedia"


def test_order_follows_types_and_mention():
    tools = [TTS, ASR, TRANSLATE]
    edges, roots = np.zeros((3, 3)), np.zeros(3)
    # ASR mentioned first, then translation, then speech: the typed chain ASR -> Translation -> TTS.
    assert order([0, 1, 2], [2.0, 0.0, 1.0], tools, edges, roots) == [1, 2, 0]


def test_connect_feeds_outputs_forward_and_fills_literals():
    parsed = parse("Transcribe 'talk.wav', translate it to French, then read it aloud.")
    spans = [(c.start, c.end) for c in parsed.clauses][:3]
    nodes = connect([0, 1, 2], spans, [ASR, TRANSLATE, TTS], parsed)
    assert [n.args for n in nodes] == [["talk.wav"], [("ref", 0)], [("ref", 1)]]
    vqa = connect([0], [(0, 40)], [VQA], parse("In photo.jpg, 'how many dogs are there?'"))
    assert vqa[0].args == ["photo.jpg", "how many dogs are there?"]


def test_connect_gives_a_node_one_reference_media_first():
    t2i = ToolSig("Text-to-Image", "text to image", ("text",), ("image",))
    parsed = parse("Draw 'a red barn', translate 'hello', then answer 'what colour is the barn?' about the picture.")
    spans = [(c.start, c.end) for c in parsed.clauses]
    spans = (spans * 3)[:3]
    nodes = connect([0, 1, 2], spans, [t2i, TRANSLATE, VQA], parsed)
    # VQA could read the image and the translation; it reads the image and keeps a literal question.
    assert nodes[2].args[0] == ("ref", 0)
    assert isinstance(nodes[2].args[1], str)


def test_prototypes_score_each_tool_by_its_best_phrase():
    from hugginggpt.planning.offline.learned import embed_prototypes, load_phrases

    phrases = load_phrases()
    assert "read the text aloud" in phrases["Text-to-Speech"] and len(phrases) >= 60

    def embed(texts):  # bag of letters: deterministic unit vectors, enough to test the pooling
        out = np.array([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    protos = embed_prototypes([ASR, TTS], embed, {"Text-to-Speech": ("read it aloud", "zzz")})
    assert protos is not None and list(protos.owner) == [0, 1, 1, 1]
    rows = embed(["read it aloud", "zzz zzz"])
    scores = protos.scores(rows)
    assert scores.shape == (2, 2)
    assert scores[0, 1] == pytest.approx(1.0, abs=1e-5) and scores[1, 1] == pytest.approx(1.0, abs=1e-5)
    assert scores[0, 0] < 1.0


def test_model_round_trip_keeps_the_phrase_weight(tmp_path):
    from hugginggpt.planning.offline.learned import LearnedModel

    m = _model("huggingface")
    m.save(tmp_path / "m.npz")
    again = LearnedModel.load(tmp_path / "m.npz")
    assert again.gamma == pytest.approx(m.gamma, rel=1e-3) and again.labels == m.labels


def test_taskbench_models_blend_their_companion_and_plan_alone_without_it():
    """A TaskBench model mixes its companion's probabilities in by ``blend``; with the companion missing (or its
    model missing) the shipped files still load and plan."""
    from dataclasses import replace

    from hugginggpt.planning.offline.features import load_embedder
    from hugginggpt.planning.offline.learned import attach_companions
    from hugginggpt.planning.offline.tool_planner import LearnedToolPlanner

    assert _model("huggingface").companion is None  # the 2026-12-01 model, kept without one (docs/evaluation.md)
    model = _model("multimedia")
    assert model.companion is not None and model.companion.combine == "blend" and 0 < model.blend < 1
    assert model.companion.labels == model.labels and model.companion.pooling == "request"
    embed = load_embedder()
    if embed is None:
        pytest.skip("the MiniLM embedder is not installed")
    sigs = list(model.tools)
    both = LearnedToolPlanner(model, sigs, embed)
    alone = LearnedToolPlanner(replace(model, companion=None), sigs, embed)
    other = LearnedToolPlanner(model.companion, sigs, embed)
    feats = request_features("Download the video at https://example.com/v.mp4 and add a voiceover to it", embed)
    mixed, _ = both.probabilities(feats, None)
    p1, _ = alone.probabilities(feats, None)
    p2, _ = other.probabilities(feats, None)
    assert np.allclose(mixed, (1 - model.blend) * p1 + model.blend * p2)
    assert not np.allclose(mixed, p1)  # the companion does move the probabilities
    # A companion whose model is missing is dropped; a model whose companion is missing plans alone.
    lone = replace(model, companion=None)
    assert attach_companions([model.companion]) == ()
    assert attach_companions([lone])[0].companion is None


def test_to_tasks_maps_arguments_onto_registry_slots():
    binding = _bound("huggingface")
    task_of = {label: task for task, label in learned_path.label_map(binding.registry, _model("huggingface").labels)
               .items()}
    sigs = list(_model("huggingface").tools)
    nodes = [PlannedNode("Automatic Speech Recognition", ["a.wav"]), PlannedNode("Translation", [("ref", 0)])]
    tasks = learned_path.to_tasks(nodes, sigs, binding.registry, task_of)
    assert [binding.tool_name(t["task"]) for t in tasks] == ["Automatic Speech Recognition", "Translation"]
    assert list(tasks[0]["args"].values()) == ["a.wav"]
    assert list(tasks[1]["args"].values()) == ["<GENERATED>-0"] and tasks[1]["dep"] == [0]


def test_learned_plans_are_valid_and_deterministic():
    binding = _bound("huggingface")
    planner = OfflinePlanner()
    assert planner.learned_for(binding.registry) is not None
    request = ("I have a recording 'meeting.wav'. Please transcribe it, then translate the transcript into "
               "German and turn the translation into speech.")
    first = planner.plan(request, PlanContext(registry=binding.registry))
    again = OfflinePlanner().plan(request, PlanContext(registry=binding.registry))
    assert first.plan.model_dump() == again.plan.model_dump()
    assert "planned by the learned tool detector" in first.notes
    names = {binding.tool_name(t.task) for t in first.plan.tasks}
    assert {"Automatic Speech Recognition", "Translation", "Text-to-Speech"} <= names
    drawn = planner.plan("Please generate an image from the text 'a red fox in the snow' and then tell me what "
                         "objects are in the image.", PlanContext(registry=binding.registry)).plan
    assert [binding.tool_name(t.task) for t in drawn.tasks] == ["Text-to-Image", "Object Detection"]
    assert list(drawn.tasks[0].args.values()) == ["a red fox in the snow"]
    assert list(drawn.tasks[1].args.values()) == ["<GENERATED>-0"] and drawn.tasks[1].dep == [0]


def test_features_are_deterministic_without_embedder():
    a = request_features("Caption photo.jpg and translate it.")
    b = request_features("Caption photo.jpg and translate it.")
    assert a.embedded is None and np.array_equal(a.hashed, b.hashed)
    assert a.hashed.shape[0] == 1 + len(a.spans) and np.allclose(np.linalg.norm(a.hashed, axis=1), 1.0)


@pytest.mark.parametrize("broken", ["models", "embedder"])
def test_rules_plan_when_the_model_or_embedder_is_missing(monkeypatch, broken):
    binding = _bound("huggingface")
    if broken == "models":
        monkeypatch.setattr("hugginggpt.planning.offline.learned.load_models", lambda: ())
    else:
        monkeypatch.setattr(learned_path, "_embedder", lambda: None)
    planner = OfflinePlanner()
    assert planner.learned_for(binding.registry) is None
    outcome = planner.plan("Transcribe 'meeting.wav' please.", PlanContext(registry=binding.registry))
    assert [binding.tool_name(t.task) for t in outcome.plan.tasks] == ["Automatic Speech Recognition"]
    assert "planned by the learned tool detector" not in outcome.notes


@pytest.mark.slow
@pytest.mark.timeout(900)  # embeds and plans a hundred requests: minutes on a busy machine
@pytest.mark.skipif(not (DEV / "multimedia_dev.jsonl").exists(), reason="TaskBench dev data not present")
def test_learned_detector_beats_rules_on_a_held_out_fold():
    from hugginggpt.eval import training as tr
    from hugginggpt.eval.tools import bind_tools
    from hugginggpt.planning.offline.features import load_embedder
    from hugginggpt.planning.offline.learned import load_phrases

    embed = load_embedder()
    if embed is None:
        pytest.skip("the MiniLM embedder is not installed")
    tools, _, examples = tr.taskbench_examples(DEV, "multimedia")
    sigs = tr.tool_sigs(tools)
    binding = bind_tools(tools)
    rules = tr.rule_tools([ex.text for ex in examples], binding.registry, sigs, binding.tool_name)
    data = tr.TrainingSet.build(examples, sigs, embed, rules, load_phrases())
    held = [i for i in range(len(examples)) if i % 5 == 0]
    rest = [i for i in range(len(examples)) if i % 5]
    model = tr.fit(data.subset(rest), "multimedia", c=1.0, threshold=0.25)
    learned, _ = tr.plan_all(model, data.subset(held), embed)
    gold = [set(examples[i].tools) for i in held]
    by_rules = [{sigs[j].name for j in np.flatnonzero(rules[i])} for i in held]
    by_model = [{t for t, _ in n} for n in learned]
    assert tr.node_scores(gold, by_model)["f1"] > tr.node_scores(gold, by_rules)["f1"] + 0.05


def _product_planner(**kwargs) -> OfflinePlanner:
    planner = OfflinePlanner(**kwargs)
    if planner.learned_for(default_registry()) is None:
        pytest.skip("the MiniLM embedder is not installed")
    return planner


@pytest.mark.parametrize(("request_text", "expected"), [
    ("jot down the words spoken in /examples/memo.wav", ["automatic-speech-recognition"]),
    ("I want to hear 'see you tomorrow' spoken", ["text-to-speech"]),
])
def test_product_planning_adds_what_the_rules_miss(request_text, expected):
    context = PlanContext(registry=default_registry())
    rules = OfflinePlanner(learned=False).plan(request_text, context)
    outcome = _product_planner().plan(request_text, context)
    assert [t.task for t in outcome.plan.tasks] == expected
    assert outcome.plan.tasks[0].args  # the graph builder filled its input (the file, the quote)
    # Written when the keyword rules found nothing in these wordings; should the rules learn them, the plan stays.
    added = f"the learned tool detector added {expected[0]}" in outcome.notes
    assert added == (rules.plan.tasks == [])


@pytest.mark.parametrize(("request_text", "expected"), [
    ("show me a joke and an image of cat", {"text-generation", "text-to-image"}),
    ("count the zebras in /examples/c.jpg", {"object-detection"}),
])
def test_product_planning_of_everyday_wordings(request_text, expected):
    outcome = _product_planner().plan(request_text, PlanContext(registry=default_registry()))
    assert {t.task for t in outcome.plan.tasks} == expected


class _NoRules:
    """A detector that finds nothing, to see the learned detector's share alone."""

    def __init__(self, tools) -> None:
        pass

    def detect(self, request, available) -> list:
        return []


@pytest.mark.parametrize(("request_text", "expected"), [
    ("count the zebras in /examples/c.jpg", ["object-detection"]),
    ("jot down the words spoken in /examples/memo.wav", ["automatic-speech-recognition"]),
    ("hi there, thanks for the help yesterday!", []),
])
def test_learned_detector_alone_plans_the_product_registry(request_text, expected):
    outcome = _product_planner(detector=_NoRules).plan(request_text, PlanContext(registry=default_registry()))
    assert [t.task for t in outcome.plan.tasks] == expected


def test_an_added_task_that_needs_a_missing_file_is_left_out():
    # The detector scores speech recognition for this wording, but no audio exists anywhere: nothing is added.
    outcome = _product_planner(detector=_NoRules).plan("jot down the words spoken in the meeting",
                                                      PlanContext(registry=default_registry()))
    assert "automatic-speech-recognition" not in [t.task for t in outcome.plan.tasks]


def test_product_planning_keeps_chit_chat_empty_and_rule_plans():
    planner = OfflinePlanner()
    if planner.learned_for(default_registry()) is None:
        pytest.skip("the MiniLM embedder is not installed")
    context = PlanContext(registry=default_registry())
    assert planner.plan("hello, how are you today?", context).plan.tasks == []
    rules = OfflinePlanner(learned=False).plan("Transcribe 'meeting.wav' and summarize it.", context).plan
    both = planner.plan("Transcribe 'meeting.wav' and summarize it.", context).plan
    assert both.model_dump() == rules.model_dump()


def test_a_count_over_a_taskbench_tool_list_gives_the_detector_only_its_image():
    # Our object-detection has an optional label slot (the count's label); TaskBench's Object Detection takes only an
    # image, and the model trained on that list fills the tool's own inputs, so the label never scores as an argument.
    binding = _bound("huggingface")
    outcome = OfflinePlanner().plan("count the zebras in c.jpg", PlanContext(registry=binding.registry))
    detections = [t for t in outcome.plan.tasks if binding.tool_name(t.task) == "Object Detection"]
    assert detections and all(t.args == {"image": "c.jpg"} for t in detections)
    product = OfflinePlanner().plan("count the zebras in c.jpg", PlanContext(registry=default_registry()))
    assert [t.args for t in product.plan.tasks] == [{"image": "c.jpg", "text": "zebra"}]
