"""Vision and audio tasks on local transformers models. Media inputs are decoded here (PIL for images, soundfile or
the bundled ffmpeg for audio), so the pipelines never need ffmpeg on PATH. Each runner is registered under its task
name (``registry.hub_task``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import ExpertInputError
from ...payloads import Answers, Boxes, Labels, Masks
from ..base import ExpertOutput, ExpertResult, require_file, require_text
from .loading import from_pretrained, generation_kwargs, pipeline_loader, plain
from .registry import LoadOptions, hub_task
from .render import png


def _image(inputs: dict[str, Any]) -> Any:
    from ...codec.image import load_image

    return load_image(require_file(inputs, "image"))


def _audio(pipe: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    from ...codec.audio import load_audio

    sr = int(getattr(pipe.feature_extractor, "sampling_rate", 16000))
    return {"raw": load_audio(require_file(inputs, "audio"), sr=sr), "sampling_rate": sr}


# ----- images ------------------------------------------------------------------------------------------------------
@hub_task("image-classification", pipeline_loader("image-classification"))
def _image_classification(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    return ExpertResult.of(Labels.of(plain(pipe(_image(inputs), top_k=5))))


@hub_task("object-detection", pipeline_loader("object-detection"))
def _object_detection(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    image = _image(inputs)
    boxes = Boxes.of(plain(pipe(image, threshold=0.5)), empty="no objects found above 0.5")
    # boxes drawn as JARVIS does, so "show me" has something to show
    return ExpertResult.of(boxes, ExpertOutput("image", data=png(boxes.draw(image)), ext=".png"))


@hub_task("image-segmentation", pipeline_loader("image-segmentation"))
def _image_segmentation(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    image = _image(inputs)
    segments = Masks.measure(image.size, [(s["label"], s["mask"], plain(s.get("score"))) for s in pipe(image)],
                             scored=True)
    return ExpertResult.of(segments, ExpertOutput("image", data=png(segments.draw(image)), ext=".png"),
                           media_first=True)


@hub_task("depth-estimation", pipeline_loader("depth-estimation"))
def _depth_estimation(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    out = pipe(_image(inputs))
    depth = out["depth"]
    pred = out.get("predicted_depth")
    data: dict[str, Any] = {"size": list(depth.size)}
    if pred is not None:
        data.update(min=round(float(pred.min()), 4), max=round(float(pred.max()), 4))
    return ExpertResult([ExpertOutput("image", data=png(depth.convert("RGB")), ext=".png")], data)


def _load_captioner(path: Path, opts: LoadOptions) -> Any:
    import transformers as tf

    for name in ("AutoModelForImageTextToText", "AutoModelForVision2Seq"):
        auto = getattr(tf, name, None)
        if auto is None:
            continue
        try:
            model = from_pretrained(auto, path, opts)
            break
        except ValueError:  # architecture not registered under this auto class
            continue
    else:
        model = from_pretrained(tf.VisionEncoderDecoderModel, path, opts)
    try:
        processor = tf.AutoProcessor.from_pretrained(str(path))
    except (OSError, ValueError, TypeError):
        processor = None
    tokenizer = getattr(processor, "tokenizer", None) or tf.AutoTokenizer.from_pretrained(str(path))
    # Encoder-decoder captioners (vit-gpt2) have no joint processor: AutoProcessor falls back to the tokenizer,
    # which cannot read images. Use the image processor then.
    if processor is None or isinstance(processor, tf.PreTrainedTokenizerBase):
        processor = tf.AutoImageProcessor.from_pretrained(str(path))
    return model, processor, tokenizer, opts


@hub_task("image-to-text", _load_captioner)
def _image_to_text(state: Any, inputs: dict[str, Any]) -> ExpertResult:
    import torch

    model, processor, tokenizer, opts = state
    enc = processor(images=_image(inputs), return_tensors="pt").to(model.device)
    with torch.no_grad():
        ids = model.generate(**enc, **generation_kwargs(model, min(opts.max_new_tokens, 64)))
    return ExpertResult.of_text(tokenizer.batch_decode(ids, skip_special_tokens=True)[0].strip())


def _load_vqa(path: Path, opts: LoadOptions) -> Any:
    from transformers import AutoModelForVisualQuestionAnswering, AutoProcessor

    return AutoProcessor.from_pretrained(str(path)), from_pretrained(AutoModelForVisualQuestionAnswering, path, opts)


@hub_task("visual-question-answering", _load_vqa, note="classification VQA heads (ViLT-style)")
def _visual_question_answering(state: Any, inputs: dict[str, Any]) -> ExpertResult:
    import torch

    processor, model = state
    enc = processor(images=_image(inputs), text=require_text(inputs), return_tensors="pt").to(model.device)
    with torch.no_grad():
        logits = model(**enc).logits[0].float().softmax(-1).cpu()
    top = logits.topk(min(3, logits.numel()))
    return ExpertResult.of(Answers(tuple({"answer": model.config.id2label[int(i)], "score": round(float(s), 4)}
                                         for s, i in zip(top.values, top.indices, strict=True))))


@hub_task("document-question-answering", pipeline_loader("document-question-answering"))
def _document_qa(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    try:
        out = plain(pipe(image=_image(inputs), question=require_text(inputs)))
    except ValueError as exc:  # LayoutLM-style models need OCR (pytesseract + tesseract) for the words and boxes
        raise ExpertInputError(f"document-question-answering could not read the document: {exc}",
                               hint="Install pytesseract and tesseract-ocr (make sysdeps), or use an OCR-free "
                                    "model such as a Donut checkpoint.") from exc
    out = out if isinstance(out, list) else [out]
    if not out:
        return ExpertResult.of_text("no answer found")
    return ExpertResult.of(Answers(tuple(out)))


# ----- audio -------------------------------------------------------------------------------------------------------
@hub_task("automatic-speech-recognition", pipeline_loader("automatic-speech-recognition"))
def _asr(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    audio = _audio(pipe, inputs)
    seconds = len(audio["raw"]) / audio["sampling_rate"]
    kwargs = {"chunk_length_s": 30} if seconds > 30 else {}
    out = pipe(audio, **kwargs)
    return ExpertResult.of_text(str(out["text"]).strip(), seconds=round(seconds, 2))


@hub_task("audio-classification", pipeline_loader("audio-classification"))
def _audio_classification(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    return ExpertResult.of(Labels.of(plain(pipe(_audio(pipe, inputs), top_k=5))))


@hub_task("text-to-speech", pipeline_loader("text-to-audio"))
def _text_to_speech(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    import numpy as np

    from ...codec.audio import wav_bytes

    out = pipe(require_text(inputs))
    samples = np.asarray(out["audio"], dtype=np.float32).reshape(-1)
    sr = int(out["sampling_rate"])
    return ExpertResult([ExpertOutput("audio", data=wav_bytes(samples, sr), ext=".wav")],
                        {"sampling_rate": sr, "seconds": round(samples.size / sr, 2)})
