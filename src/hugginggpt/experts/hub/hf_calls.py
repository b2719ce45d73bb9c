"""One function per task, registered under its task name (``registry.hosted_call``): build the ``InferenceClient``
call from resolved inputs and decode the typed response into an ``ExpertResult``. Images and audio are sent as bytes;
structured answers (labels, boxes, spans) go to ``data``. depth-estimation and tabular-classification have none:
InferenceClient has no depth call, and our tabular slot is an image."""

from __future__ import annotations

from typing import Any

from ...errors import ExpertInputError
from ...payloads import Answer, Answers, Boxes, Embedding, Entities, Labels, Masks
from ..base import ExpertOutput, ExpertResult, require_file, require_text
from .registry import hosted_call
from .render import audio_ext, b64decode, png


def _as_dict(obj: Any) -> dict[str, Any]:
    """huggingface_hub's generated output dataclasses (and plain dicts) → dict."""
    if isinstance(obj, dict):
        return obj
    return {k: getattr(obj, k) for k in getattr(obj, "__dataclass_fields__", {}) if not k.startswith("_")} or \
        {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _rows(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        value = [value]
    if value and isinstance(value[0], list):  # some deployments nest one list per input
        value = value[0]
    rows = [_as_dict(v) for v in value]
    for r in rows:
        box = r.get("box")
        if box is not None and not isinstance(box, dict):
            r["box"] = _as_dict(box)
    return rows


def _labels(rows: list[dict[str, Any]]) -> ExpertResult:
    return ExpertResult.of(Labels.of(sorted(rows, key=lambda r: -float(r.get("score") or 0))))


def _bytes(inputs: dict[str, Any], slot: str) -> bytes:
    return require_file(inputs, slot).read_bytes()


@hosted_call("text-classification")
def _text_classification(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return _labels(_rows(c.text_classification(require_text(i), model=m)))


@hosted_call("token-classification")
def _token_classification(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    rows = _rows(c.token_classification(require_text(i), model=m))
    for r in rows:
        r["label"] = r.pop("entity_group", None) or r.pop("entity", None) or r.get("label")
    return ExpertResult.of(Entities.of(rows, group_key="label"))


@hosted_call("zero-shot-classification")
def _zero_shot(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    labels = [x.strip() for x in str(i.get("labels") or "").replace(";", ",").split(",") if x.strip()]
    if not labels:
        raise ExpertInputError("zero-shot-classification needs candidate labels in the 'labels' slot.")
    return _labels(_rows(c.zero_shot_classification(require_text(i), labels, model=m)))


@hosted_call("summarization")
def _summarization(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return ExpertResult.of_text(str(_as_dict(c.summarization(require_text(i), model=m))["summary_text"]).strip())


@hosted_call("translation")
def _translation(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return ExpertResult.of_text(str(_as_dict(c.translation(require_text(i), model=m))["translation_text"]).strip())


@hosted_call("text-generation", "text2text-generation")
def _text_generation(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    out = c.text_generation(require_text(i), model=m, max_new_tokens=128)
    return ExpertResult.of_text(str(out if isinstance(out, str) else _as_dict(out)["generated_text"]).strip())


@hosted_call("conversational")
def _conversational(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    out = c.chat_completion([{"role": "user", "content": require_text(i)}], model=m, max_tokens=256)
    return ExpertResult.of_text(str(out.choices[0].message.content or "").strip())


@hosted_call("question-answering")
def _question_answering(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    row = _rows(c.question_answering(question=require_text(i), context=require_text(i, "context"), model=m))[0]
    return ExpertResult.of(Answer(str(row["answer"]), row.get("score"), (row.get("start"), row.get("end"))))


@hosted_call("sentence-similarity")
def _sentence_similarity(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    score = float(c.sentence_similarity(require_text(i), [require_text(i, "text2")], model=m)[0])
    return ExpertResult.of_text(f"similarity: {score:.3f}", score=round(score, 4))


@hosted_call("feature-extraction")
def _feature_extraction(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    import numpy as np

    vec = np.asarray(c.feature_extraction(require_text(i), model=m), dtype=np.float32)
    while vec.ndim > 1:  # (1, tokens, hidden) or (tokens, hidden) → mean over tokens
        vec = vec.mean(axis=0)
    return ExpertResult.of(Embedding.of(vec))


@hosted_call("image-classification")
def _image_classification(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return _labels(_rows(c.image_classification(_bytes(i, "image"), model=m)))


@hosted_call("object-detection")
def _object_detection(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    from ...codec.image import load_image

    boxes = Boxes.of(_rows(c.object_detection(_bytes(i, "image"), model=m)))
    picture = png(boxes.draw(load_image(require_file(i, "image"))))
    return ExpertResult.of(boxes, ExpertOutput("image", data=picture, ext=".png"))


@hosted_call("image-segmentation")
def _image_segmentation(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    from ...codec.image import load_image
    from ...imaging import check_image_pixels

    image = load_image(require_file(i, "image"))
    masks = []
    for r in _rows(c.image_segmentation(_bytes(i, "image"), model=m)):
        label, mask = str(r.get("label")), _mask_bytes(r["mask"])
        check_image_pixels(mask, name=f"The mask of {label!r}")  # masks come from remote models: no bombs
        masks.append((label, mask, None))
    segments = Masks.measure(image.size, masks)
    return ExpertResult.of(segments, ExpertOutput("image", data=png(segments.draw(image)), ext=".png"),
                           media_first=True)


def _mask_bytes(mask: Any) -> bytes:
    """A mask as the client hands it over: a PIL image (decoded by InferenceClient), PNG bytes, or base64 text."""
    if hasattr(mask, "save"):
        return png(mask)
    return mask if isinstance(mask, bytes) else b64decode(str(mask))


@hosted_call("image-to-text")
def _image_to_text(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    out = _rows(c.image_to_text(_bytes(i, "image"), model=m))[0]
    return ExpertResult.of_text(str(out["generated_text"]).strip())


@hosted_call("visual-question-answering")
def _visual_qa(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return ExpertResult.of(Answers(tuple(_rows(c.visual_question_answering(_bytes(i, "image"), require_text(i),
                                                                           model=m)))))


@hosted_call("document-question-answering")
def _document_qa(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return ExpertResult.of(Answers(tuple(_rows(c.document_question_answering(_bytes(i, "image"), require_text(i),
                                                                             model=m)))))


@hosted_call("text-to-image")
def _text_to_image(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return ExpertResult([ExpertOutput("image", data=png(c.text_to_image(require_text(i), model=m)), ext=".png")])


@hosted_call("image-to-image")
def _image_to_image(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    out = c.image_to_image(_bytes(i, "image"), prompt=i.get("text") or None, model=m)
    return ExpertResult([ExpertOutput("image", data=png(out), ext=".png")])


@hosted_call("text-to-video")
def _text_to_video(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return ExpertResult([ExpertOutput("video", data=bytes(c.text_to_video(require_text(i), model=m)), ext=".mp4")])


@hosted_call("text-to-speech")
def _text_to_speech(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    data = bytes(c.text_to_speech(require_text(i), model=m))
    return ExpertResult([ExpertOutput("audio", data=data, ext=audio_ext(data))])


@hosted_call("automatic-speech-recognition")
def _asr(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return ExpertResult.of_text(str(_as_dict(c.automatic_speech_recognition(_bytes(i, "audio"), model=m))["text"])
                                .strip())


@hosted_call("audio-classification")
def _audio_classification(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    return _labels(_rows(c.audio_classification(_bytes(i, "audio"), model=m)))


@hosted_call("audio-to-audio")
def _audio_to_audio(c: Any, m: str, i: dict[str, Any]) -> ExpertResult:
    rows = _rows(c.audio_to_audio(_bytes(i, "audio"), model=m))
    if not rows:
        raise ExpertInputError("The service returned no audio.")
    blob = rows[0]["blob"]
    data = blob if isinstance(blob, bytes) else b64decode(str(blob))
    return ExpertResult([ExpertOutput("audio", data=data, ext=audio_ext(data))],
                        {"labels": [r.get("label") for r in rows]})

