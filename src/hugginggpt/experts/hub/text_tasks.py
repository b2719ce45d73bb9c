"""Text tasks on local transformers models, each registered under its task name (``registry.hub_task``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import ExpertInputError
from ...payloads import Answer, Embedding, Entities, Labels
from ..base import ExpertResult, require_text
from .loading import cap_tokenizer, from_pretrained, generation_kwargs, pipeline_loader, plain
from .registry import LoadOptions, hub_task


@hub_task("text-classification", pipeline_loader("text-classification"))
def _text_classification(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    scores = pipe(require_text(inputs), top_k=None, truncation=True)
    return ExpertResult.of(Labels.of(sorted(plain(scores), key=lambda s: -s["score"])[:10]))


@hub_task("token-classification", pipeline_loader("token-classification", aggregation_strategy="simple"))
def _token_classification(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    found = [plain(e) for e in pipe(require_text(inputs))]
    for e in found:
        e["label"] = e.pop("entity_group", e.pop("entity", ""))
    return ExpertResult.of(Entities.of(found, group_key="label"))


def _labels(inputs: dict[str, Any]) -> list[str]:
    raw = inputs.get("labels") or ""
    labels = [x.strip() for x in str(raw).replace(";", ",").split(",") if x.strip()]
    if not labels:
        raise ExpertInputError("zero-shot-classification needs candidate labels in the 'labels' slot.",
                               hint="Give them comma-separated, e.g. 'sports, politics, technology'.")
    return labels


@hub_task("zero-shot-classification", pipeline_loader("zero-shot-classification"))
def _zero_shot(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    out = pipe(require_text(inputs), candidate_labels=_labels(inputs))
    scores = dict(zip(out["labels"], (round(float(s), 4) for s in out["scores"]), strict=True))
    return ExpertResult.of(Labels.of(scores))


def _mean_embedding(pipe: Any, text: str) -> Any:
    import numpy as np

    tokens = np.asarray(pipe(text, truncation=True)[0], dtype=np.float32)  # (tokens, hidden)
    return tokens.mean(axis=0)


@hub_task("feature-extraction", pipeline_loader("feature-extraction"))
def _feature_extraction(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    vec = _mean_embedding(pipe, require_text(inputs))
    return ExpertResult.of(Embedding.of(vec), pooling="mean")


@hub_task("sentence-similarity", pipeline_loader("feature-extraction"), note="mean-pooled embeddings, cosine")
def _sentence_similarity(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    import numpy as np

    a, b = _mean_embedding(pipe, require_text(inputs)), _mean_embedding(pipe, require_text(inputs, "text2"))
    score = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    return ExpertResult.of_text(f"similarity: {score:.3f}", score=round(score, 4))


# ----- extractive question answering (no pipeline in transformers 5) -----------------------------------------------
def _load_qa(path: Path, opts: LoadOptions) -> Any:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = from_pretrained(AutoModelForQuestionAnswering, path, opts)
    return cap_tokenizer(AutoTokenizer.from_pretrained(str(path)), model), model


@hub_task("question-answering", _load_qa)
def _question_answering(state: Any, inputs: dict[str, Any]) -> ExpertResult:
    import torch

    tokenizer, model = state
    question, context = require_text(inputs), require_text(inputs, "context")
    enc = tokenizer(question, context, truncation="only_second", max_length=384, return_offsets_mapping=True,
                    return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    seq_ids = enc.sequence_ids(0)
    with torch.no_grad():
        out = model(**{k: v.to(model.device) for k, v in enc.items()})
    start = out.start_logits[0].float().cpu()
    end = out.end_logits[0].float().cpu()
    ctx = [i for i, s in enumerate(seq_ids) if s == 1]
    if not ctx:
        raise ExpertInputError("The context is empty after tokenization.", hint="Give a non-empty context text.")
    best, span = -1e9, (ctx[0], ctx[0])
    top_starts = sorted(ctx, key=lambda i: -start[i])[:20]
    top_ends = sorted(ctx, key=lambda i: -end[i])[:20]
    for i in top_starts:
        for j in top_ends:
            if i <= j < i + 30 and float(start[i] + end[j]) > best:
                best, span = float(start[i] + end[j]), (i, j)
    answer = context[offsets[span[0]][0]:offsets[span[1]][1]]
    prob = float(torch.softmax(start[ctx], 0)[ctx.index(span[0])] * torch.softmax(end[ctx], 0)[ctx.index(span[1])])
    return ExpertResult.of(Answer(answer, round(prob, 4), (offsets[span[0]][0], offsets[span[1]][1])))


# ----- sequence to sequence: summarization, translation, text2text ------------------------------------------------
def _load_seq2seq(path: Path, opts: LoadOptions) -> Any:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model = from_pretrained(AutoModelForSeq2SeqLM, path, opts)
    return cap_tokenizer(AutoTokenizer.from_pretrained(str(path)), model), model, opts


# ISO 639-1 codes of the languages a plan may name as a translation's target (T5 configs key prefixes by code).
_LANGUAGE_CODES = {"english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
                   "portuguese": "pt", "dutch": "nl", "chinese": "zh", "japanese": "ja", "korean": "ko",
                   "russian": "ru", "arabic": "ar", "hindi": "hi", "turkish": "tr", "polish": "pl", "swedish": "sv",
                   "greek": "el", "romanian": "ro"}


def _prefix(model: Any, task: str, language: str | None = None) -> str:
    """T5-style models say in their config which prefix a task wants ("summarize: ", "translate English to ...").
    A translation into a named language takes that language's prefix; one the model has no prefix for is refused
    rather than translated into another language."""
    params = getattr(model.config, "task_specific_params", None) or {}
    keys = [k for k in params if k == task or k.startswith(task)]
    code = _LANGUAGE_CODES.get((language or "").strip().lower())
    if task == "translation" and language and keys:
        wanted = [k for k in keys if code and k.endswith(f"_to_{code}")]
        if not wanted:
            offered = ", ".join(sorted({k.rsplit("_to_", 1)[-1] for k in keys}))
            raise ExpertInputError(f"This translation model does not translate into {language}; its configured "
                                   f"targets are: {offered}.",
                                   hint="Choose a model for that language (overrides: {translation: <model id>}), "
                                        "or an LLM backend that translates (llm.capable).")
        keys = wanted
    return (params.get(keys[0]) or {}).get("prefix", "") if keys else ""


def _seq2seq(task: str) -> Any:
    def run(state: Any, inputs: dict[str, Any]) -> ExpertResult:
        import torch

        tokenizer, model, opts = state
        text = _prefix(model, task, inputs.get("language")) + require_text(inputs)
        enc = tokenizer(text, truncation=True, return_tensors="pt").to(model.device)
        with torch.no_grad():
            ids = model.generate(**enc, **generation_kwargs(model, opts.max_new_tokens))
        out = tokenizer.batch_decode(ids, skip_special_tokens=True)[0].strip()
        return ExpertResult.of_text(out, tokens=int(ids.shape[-1]))

    return run


# ----- decoder-only generation ------------------------------------------------------------------------------------
@hub_task("text-generation", pipeline_loader("text-generation"))
def _text_generation(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    out = pipe(require_text(inputs), max_new_tokens=pipe._hugginggpt_opts.max_new_tokens, return_full_text=False)
    return ExpertResult.of_text(str(out[0]["generated_text"]).strip())


@hub_task("conversational", pipeline_loader("text-generation"))
def _conversational(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    text = require_text(inputs)
    if getattr(pipe.tokenizer, "chat_template", None):
        out = pipe([{"role": "user", "content": text}], max_new_tokens=pipe._hugginggpt_opts.max_new_tokens)
        reply = out[0]["generated_text"]
        reply = reply[-1]["content"] if isinstance(reply, list) else reply
        return ExpertResult.of_text(str(reply).strip(), chat_template=True)
    return _text_generation(pipe, inputs)


# Sequence to sequence: one runner per task (a T5 model reads the task's prefix from its config).
hub_task("summarization", _load_seq2seq)(_seq2seq("summarization"))
hub_task("translation", _load_seq2seq)(_seq2seq("translation"))
hub_task("text2text-generation", _load_seq2seq)(_seq2seq("text2text-generation"))
