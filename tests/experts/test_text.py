"""Embedded text experts on real models: MiniLM (ONNX), VADER, spaCy NER, the QA heuristics and document QA."""

from __future__ import annotations

import json
import sys
import threading

import numpy as np
import pytest

from hugginggpt.embedding import get_minilm
from hugginggpt.errors import ExpertInputError
from hugginggpt.experts.embedded import text
from hugginggpt.experts.embedded._nlp import split_sentences
from hugginggpt.experts.embedded._qa import answer_from_lines, expected_labels
from hugginggpt.tasks import default_registry

ARTICLE_SENTENCES = [
    "The city council met on Tuesday to discuss the new riverside park.",
    "The park will cost $2.5 million and cover twelve acres of former industrial land.",
    "Construction will start next spring, according to Mayor Jane Smith.",
    "Local businesses welcomed the decision.",
    "Some residents worried about traffic on River Road during the works.",
    "The council promised a new bus line to the park.",
    "A local bakery plans to open a kiosk near the playground.",
    "The park is expected to open in 2027.",
]
ARTICLE = " ".join(ARTICLE_SENTENCES)


def out_text(result) -> str:
    (output,) = result.outputs
    assert output.kind == "text"
    return output.text


# --- MiniLM ----------------------------------------------------------------------------------------------------------


def test_minilm_embeddings_are_unit_vectors_and_meaningful():
    vectors = get_minilm().embed(["A man is eating food.", "A man is eating a piece of bread.",
                                  "The girl is carrying a baby.", "word " * 400])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.6 > 0.1 > vectors[0] @ vectors[2]
    assert get_minilm() is get_minilm()


def test_minilm_needs_no_torch():
    import subprocess

    code = ("import sys; from hugginggpt.embedding import get_minilm; get_minilm().embed(['hi']); "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_minilm_is_safe_across_threads():
    sentences = [f"Sentence number {i} about {topic}." for i, topic in enumerate(["cats", "tax", "rockets"] * 4)]
    expected = get_minilm().embed(sentences)
    results: dict[int, np.ndarray] = {}

    def work(i):
        results[i] = get_minilm().embed_one(sentences[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(sentences))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(np.allclose(results[i], expected[i], atol=1e-5) for i in range(len(sentences)))


# --- summarization, similarity, embeddings, zero-shot ----------------------------------------------------------------


def test_split_sentences_keeps_abbreviations_and_numbers():
    assert split_sentences('Mr. Smith paid $3.50 at 5 p.m. on Friday. "Yes," he said! Dr. J. Doe left.\n\nNext') == [
        "Mr. Smith paid $3.50 at 5 p.m. on Friday.", '"Yes," he said!', "Dr. J. Doe left.", "Next"]
    assert split_sentences(ARTICLE) == ARTICLE_SENTENCES


def test_summary_is_an_ordered_subset_of_the_sentences():
    result = text.ExtractiveSummarizer().run({"text": ARTICLE})
    kept = result.data["kept"]
    assert len(kept) == 3 and kept == sorted(kept)  # ~1/3 of 8
    assert out_text(result) == " ".join(ARTICLE_SENTENCES[i] for i in kept)


def test_summary_of_short_and_long_texts():
    one = "Only one sentence here."
    assert out_text(text.ExtractiveSummarizer().run({"text": one})) == one
    long_text = " ".join(f"Sentence {i} talks about topic {i % 4}." for i in range(40))
    assert len(text.ExtractiveSummarizer().run({"text": long_text}).data["kept"]) == 5


def test_sentence_similarity_scores():
    expert = text.SentenceSimilarity()
    close = expert.run({"text": "A man is eating food.", "text2": "A man is eating bread."}).data["score"]
    far = expert.run({"text": "A man is eating food.", "text2": "The stock market fell sharply."}).data["score"]
    assert close > 0.6 and far < 0.2
    assert out_text(expert.run({"text": "Same text.", "text2": "Same text."})) == "similarity: 1.000"


def test_feature_extraction_is_json():
    vector = json.loads(out_text(text.FeatureExtraction().run({"text": "hello world"})))
    assert len(vector) == 384 and abs(float(np.linalg.norm(vector)) - 1) < 1e-3


def test_zero_shot_picks_the_topic():
    result = text.ZeroShotClassifier().run({"text": "The new smartphone has a faster chip and a better camera.",
                                            "labels": "sports, technology, food, politics, technology"})
    assert result.data["label"] == "technology" and next(iter(result.data["scores"])) == "technology"
    assert len(result.data["scores"]) == 4  # duplicates dropped
    assert out_text(result).startswith("technology (score ")
    with pytest.raises(ExpertInputError, match="labels"):
        text.ZeroShotClassifier().run({"text": "Some text.", "labels": " , "})


# --- sentiment, NER, QA ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sentence", "label"), [
    ("I love this wonderful park, it is great!", "positive"),
    ("The service was terrible and the food was awful.", "negative"),
    ("The meeting is on Tuesday.", "neutral"),
])
def test_vader_sentiment(sentence, label):
    result = text.VaderSentiment().run({"text": sentence})
    assert result.data["label"] == label and out_text(result).startswith(label + " (compound ")


@pytest.mark.slow
def test_ner_finds_people_and_places():
    result = text.SpacyNER().run({"text": "Barack Obama was born in Hawaii and worked in Washington for Google."})
    labels = {e["text"]: e["label"] for e in result.data["entities"]}
    assert labels["Barack Obama"] == "PERSON" and labels["Hawaii"] == "GPE"
    assert "Barack Obama (PERSON)" in out_text(result)
    assert out_text(text.SpacyNER().run({"text": "nothing to see here"})) == "no named entities found"


@pytest.mark.parametrize(("question", "labels"), [
    ("When will construction start?", ("DATE", "TIME")),
    ("How much will it cost?", ("MONEY", "QUANTITY", "PERCENT", "CARDINAL")),
    ("How many acres will it cover?", ("CARDINAL", "QUANTITY")),
    ("Who announced it?", ("PERSON", "ORG", "NORP")),
    ("Who announced when work starts?", ("PERSON", "ORG", "NORP")),  # the earliest question word decides
    ("Where is the park?", ("GPE", "LOC", "FAC")),
    ("Why did residents worry?", ()),
])
def test_question_words_map_to_entity_types(question, labels):
    assert expected_labels(question) == labels


@pytest.mark.slow
@pytest.mark.parametrize(("question", "answer", "label"), [
    ("When will construction start?", "next spring", "DATE"),
    ("How much will the park cost?", "$2.5 million", "MONEY"),
    ("Who announced when construction starts?", "Jane Smith", "PERSON"),
    ("Why were some residents worried?", ARTICLE_SENTENCES[4], None),
])
def test_extractive_qa(question, answer, label):
    result = text.ExtractiveQA().run({"text": question, "context": ARTICLE})
    assert out_text(result) == answer and result.data["entity_label"] == label


def test_document_lines_heuristic():
    lines = ["ACME Supplies Ltd.", "Invoice No. 12345", "Date: 2024-03-01", "Subtotal: $40.00", "Tax: $2.50",
             "Total due:", "$42.50"]
    assert answer_from_lines("What is the invoice number?", lines).answer == "12345"
    assert answer_from_lines("What is the total due?", lines).answer == "$42.50"  # value on the next line
    assert answer_from_lines("How much do I have to pay?", lines).answer == "$42.50"  # the last total line
    assert answer_from_lines("What is the tax?", lines).answer == "$2.50"


@pytest.fixture(scope="module")
def invoice(tmp_path_factory):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (640, 300), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=32)
    for y, line in zip((30, 90, 150, 220), ("ACME Supplies Ltd.", "Invoice No. 12345", "Date: 2024-03-01",
                                            "Total due: $42.50"), strict=True):
        draw.text((30, y), line, fill="black", font=font)
    path = tmp_path_factory.mktemp("docs") / "invoice.png"
    image.save(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(("question", "answer"), [
    ("What is the total due?", "$42.50"),
    ("What is the invoice number?", "12345"),
    ("Which company issued the invoice?", "ACME Supplies Ltd."),
])
def test_document_qa_on_a_rendered_invoice(invoice, question, answer):
    result = text.DocumentQA().run({"image": invoice, "text": question})
    assert out_text(result) == answer
    assert "Total due: $42.50" in result.data["lines"]


# --- wrong inputs and cards ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("expert_cls", "inputs"), [
    (text.ExtractiveSummarizer, {"text": ""}),
    (text.SentenceSimilarity, {"text": "One.", "text2": "  "}),
    (text.FeatureExtraction, {"text": None}),
    (text.ZeroShotClassifier, {"text": "", "labels": "a, b"}),
    (text.VaderSentiment, {"text": " "}),
    (text.SpacyNER, {"text": ""}),
    (text.ExtractiveQA, {"text": "Who?", "context": ""}),
    (text.ExtractiveQA, {"text": "", "context": "Some context."}),
])
def test_empty_text_is_an_input_error(expert_cls, inputs):
    with pytest.raises(ExpertInputError):
        expert_cls().run(inputs)


def test_document_qa_rejects_missing_and_non_image_files(tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    for image in (tmp_path / "missing.png", notes):
        with pytest.raises(ExpertInputError):
            text.DocumentQA().run({"image": image, "text": "What is the total?"})


def test_expert_cards_are_complete():
    registry = default_registry()
    tasks = {cls.task for cls in text.EXPERTS}
    assert tasks == {"summarization", "sentence-similarity", "feature-extraction", "zero-shot-classification",
                     "text-classification", "token-classification", "question-answering",
                     "document-question-answering"}
    for cls in text.EXPERTS:
        assert cls.task in registry and cls.model_id.startswith("hugginggpt/")
        assert cls.license and cls.description and cls.real_model and cls.limitations and cls.requires
        assert cls.availability() == (True, "installed"), cls
