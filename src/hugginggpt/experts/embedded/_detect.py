"""The detectors that really exist offline: faces, people and cat faces, plus the mediapipe pose model they share
with the OpenPose expert. No general (COCO) detector ships inside a package, so none is pretended here.

- faces: mediapipe BlazeFace, short-range and full-range models on the whole image, plus the short-range model on
  overlapping half-size tiles (it misses faces under ~15 % of its input), each tile-only face confirmed on a crop
  around it; OpenCV's Haar frontal-face cascade only when mediapipe is not installed.
- people: OpenCV's HOG pedestrian detector (upright, full-body people) plus one person from mediapipe pose (works on
  portraits and half-body shots, where HOG finds nothing).
- cat faces: OpenCV's Haar frontal cat-face cascade.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ...codec.image import to_png_bytes, to_rgb_array
from ...payloads import Box, Boxes, scored
from ._shared import SharedModel

CLASSES_SUPPORTED = ("face", "person", "cat face")
_COLORS = {"face": (255, 64, 64), "person": (30, 144, 255), "cat face": (40, 200, 40)}
_WORK_SIDE = 640  # OpenCV detectors run on a copy whose longer side is about this (speed; HOG needs >= 64x128)
_MIN_FACE_SCORE = 0.5
_MIN_HOG_MARGIN = 1.0  # below this, HOG fires on round objects and textures (a helmet, a flag)
_HOG_WINDOW = (64, 128)  # width, height
_VISIBLE = 0.5
_DIGITS = 4  # scores in the facts


@dataclass(frozen=True)
class Detection:
    """One found object; ``box`` is ``(xmin, ymin, xmax, ymax)`` in pixels of the input image."""

    label: str
    score: float
    box: tuple[int, int, int, int]
    source: str

    def as_box(self) -> Box:
        x0, y0, x1, y1 = self.box
        return Box(self.label, self.score, {"xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1}, {"source": self.source})

    def to_dict(self) -> dict[str, Any]:
        return self.as_box().to_dict(_DIGITS)


def as_boxes(found: list[Detection]) -> Boxes:
    """The detections as a payload: the labels this detector knows, scores rounded in the facts."""
    return Boxes(tuple(d.as_box() for d in found), known=CLASSES_SUPPORTED, digits=_DIGITS)


def mediapipe_ready() -> bool:
    return importlib.util.find_spec("mediapipe") is not None


def mediapipe_module() -> Any:
    """Import mediapipe (legacy ``mp.solutions``) with its C++ logging quietened."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ logging is noisy on stderr
    import mediapipe as mp

    return mp


def _face_models() -> tuple[Any, Any]:
    fd = mediapipe_module().solutions.face_detection
    return (
        fd.FaceDetection(model_selection=0, min_detection_confidence=_MIN_FACE_SCORE),
        fd.FaceDetection(model_selection=1, min_detection_confidence=_MIN_FACE_SCORE),
    )


def _pose_model() -> Any:
    # model_complexity=1 is the only pose model bundled in the wheel (0 and 2 are downloaded at run time).
    return mediapipe_module().solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False)


def _cascade(name: str) -> Any:
    import cv2

    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, name))  # type: ignore[attr-defined]
    if cascade.empty():
        raise FileNotFoundError(f"OpenCV Haar cascade {name} is missing (opencv-python 5 dropped them; pin <5)")
    return cascade


def _hog() -> Any:
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
    return hog


FACES: SharedModel[tuple[Any, Any]] = SharedModel("mediapipe face detection", _face_models)
POSE: SharedModel[Any] = SharedModel("mediapipe pose", _pose_model)
HOG: SharedModel[Any] = SharedModel("OpenCV HOG people detector", _hog)
CAT_FACES: SharedModel[Any] = SharedModel(
    "OpenCV cat-face cascade", lambda: _cascade("haarcascade_frontalcatface_extended.xml")
)
HAAR_FACES: SharedModel[Any] = SharedModel(
    "OpenCV face cascade", lambda: _cascade("haarcascade_frontalface_default.xml")
)


def release_detectors() -> None:
    for model in (FACES, POSE, HOG, CAT_FACES, HAAR_FACES):
        model.release()


# --- detectors ---------------------------------------------------------------------------------------------------


def detect_objects(image: Image.Image) -> list[Detection]:
    """Faces, people and cat faces in an RGB image, best score first within each class."""
    return detect_faces(image) + detect_people(image) + detect_cat_faces(image)


def detect_faces(image: Image.Image) -> list[Detection]:
    if not mediapipe_ready():
        return _haar(HAAR_FACES, image, "face", "opencv-haar-frontalface", min_neighbors=6)
    rgb = to_rgb_array(image)
    h, w = rgb.shape[:2]
    with FACES.use() as (short_range, full_range):
        found = _blazeface(full_range, rgb, 0, 0, "mediapipe-face-full")
        found += _blazeface(short_range, rgb, 0, 0, "mediapipe-face-short")
        found = _suppress(found)
        side = min(h, w) // 2
        if side < 96:
            return found
        tiled: list[Detection] = []
        for y0 in _tile_starts(h, side):
            for x0 in _tile_starts(w, side):
                tile = np.ascontiguousarray(rgb[y0 : y0 + side, x0 : x0 + side])
                tiled += _blazeface(short_range, tile, x0, y0, "mediapipe-face-short")
        for det in _suppress(tiled):
            # A tile shows the model little context and it then takes star patterns or knots for faces: keep a
            # tile-only face when it is found again in a crop 2.5 times its size around it.
            if not any(_overlaps(det.box, k.box) for k in found) and _confirmed(det, rgb, (short_range, full_range)):
                found.append(det)
    return _sorted(found)


def _confirmed(det: Detection, rgb: np.ndarray[Any, Any], models: tuple[Any, Any]) -> bool:
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = det.box
    half = 1.25 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    a0, b0 = int(max(0, cx - half)), int(max(0, cy - half))
    a1, b1 = int(min(w, cx + half)), int(min(h, cy + half))
    crop = np.ascontiguousarray(rgb[b0:b1, a0:a1])
    again = [d for m in models for d in _blazeface(m, crop, a0, b0, det.source)]
    return any(_overlaps(d.box, det.box) for d in again)


def detect_people(image: Image.Image) -> list[Detection]:
    import cv2

    gray, scale = _work_gray(image)
    rects: Any = ()
    weights: Any = ()
    # HOG's window is 64×128: nothing smaller can hold a person, and OpenCV 4.14 corrupts its heap on some smaller
    # inputs (128×64 crashed the process with "malloc(): invalid size").
    if gray.shape[0] >= _HOG_WINDOW[1] and gray.shape[1] >= _HOG_WINDOW[0]:
        with HOG.use() as hog:
            rects, weights = hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.05)
    found = []
    for (x, y, bw, bh), margin in zip(rects, np.ravel(weights), strict=False):
        if float(margin) >= _MIN_HOG_MARGIN:
            box = _scaled_box(x, y, bw, bh, scale, image.size)
            found.append(Detection("person", _squash(float(margin)), box, "opencv-hog"))
    keep = cv2.dnn.NMSBoxes([_xywh(d.box) for d in found], [d.score for d in found], 0.0, 0.4) if found else []
    people = _sorted([found[i] for i in np.ravel(keep)])
    if mediapipe_ready():
        posed = _person_from_pose(image)
        if posed is not None and not any(_overlaps(posed.box, p.box) for p in people):
            people.append(posed)
    return _sorted(people)


def detect_cat_faces(image: Image.Image) -> list[Detection]:
    return _haar(CAT_FACES, image, "cat face", "opencv-haar-catface", min_neighbors=5)


def pose_landmarks(image: Image.Image) -> list[tuple[float, float, float]] | None:
    """mediapipe's 33 pose landmarks ``(x, y, visibility)`` normalised to 0–1 for the most prominent person."""
    rgb = to_rgb_array(image)
    with POSE.use() as pose:
        result = pose.process(rgb)
    if result.pose_landmarks is None:
        return None
    return [(float(lm.x), float(lm.y), float(lm.visibility)) for lm in result.pose_landmarks.landmark]


def _person_from_pose(image: Image.Image) -> Detection | None:
    landmarks = pose_landmarks(image)
    if landmarks is None:
        return None
    w, h = image.size
    seen = [(x * w, y * h, v) for x, y, v in landmarks if v >= _VISIBLE and 0 <= x <= 1 and 0 <= y <= 1]
    shoulders = [landmarks[11][2], landmarks[12][2]]
    if len(seen) < 5 or min(shoulders) < _VISIBLE:  # a lone visible hand or face is not enough to call it a person
        return None
    xs, ys = [p[0] for p in seen], [p[1] for p in seen]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad_x, pad_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    nose_y = landmarks[0][1] * h
    shoulder_y = (landmarks[11][1] + landmarks[12][1]) / 2 * h
    top = min(y0 - pad_y, nose_y - 0.8 * abs(shoulder_y - nose_y))  # landmarks stop at the eyes: add the head
    bottom = y1 + pad_y
    if min(landmarks[23][1], landmarks[24][1]) > 1.0:  # hips below the frame: the body runs off the bottom edge
        bottom = h
    box = (max(0, int(x0 - pad_x)), max(0, int(top)), min(w, int(x1 + pad_x)), min(h, int(bottom)))
    score = sum(p[2] for p in seen) / len(seen)
    return Detection("person", round(score, 4), box, "mediapipe-pose")


def _blazeface(model: Any, rgb: np.ndarray[Any, Any], x0: int, y0: int, source: str) -> list[Detection]:
    h, w = rgb.shape[:2]
    out = []
    for det in model.process(rgb).detections or []:
        rel = det.location_data.relative_bounding_box
        bx0, by0 = max(0.0, rel.xmin), max(0.0, rel.ymin)
        bx1, by1 = min(1.0, rel.xmin + rel.width), min(1.0, rel.ymin + rel.height)
        if bx1 <= bx0 or by1 <= by0:
            continue
        box = (x0 + int(bx0 * w), y0 + int(by0 * h), x0 + math.ceil(bx1 * w), y0 + math.ceil(by1 * h))
        out.append(Detection("face", float(det.score[0]), box, source))
    return out


def _haar(model: SharedModel[Any], image: Image.Image, label: str, source: str, min_neighbors: int) -> list[Detection]:
    gray, scale = _work_gray(image)
    with model.use() as cascade:
        rects, _levels, weights = cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(32, 32), outputRejectLevels=True
        )
    found = [
        Detection(label, _squash(float(wt)), _scaled_box(x, y, bw, bh, scale, image.size), source)
        for (x, y, bw, bh), wt in zip(rects, np.ravel(weights), strict=False)
    ]
    return _suppress(found)


# --- geometry ----------------------------------------------------------------------------------------------------


def _work_gray(image: Image.Image) -> tuple[np.ndarray[Any, Any], float]:
    import cv2

    rgb = to_rgb_array(image)
    h, w = rgb.shape[:2]
    scale = min(2.0, _WORK_SIDE / max(h, w))
    if abs(scale - 1.0) > 0.05:
        rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    else:
        scale = 1.0
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), scale


def _scaled_box(x: int, y: int, bw: int, bh: int, scale: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    w, h = size
    return (
        max(0, int(x / scale)),
        max(0, int(y / scale)),
        min(w, math.ceil((x + bw) / scale)),
        min(h, math.ceil((y + bh) / scale)),
    )


def _tile_starts(total: int, side: int) -> list[int]:
    starts = list(range(0, max(1, total - side + 1), max(1, side // 2)))
    if starts[-1] + side < total:
        starts.append(total - side)
    return starts


def _squash(margin: float) -> float:
    """Map a detector margin (0..inf) into 0..1; monotonic, not a calibrated probability."""
    return round(max(0.0, margin) / (1.0 + max(0.0, margin)), 4)


def _xywh(box: tuple[int, int, int, int]) -> list[int]:
    return [box[0], box[1], box[2] - box[0], box[3] - box[1]]


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Same object: IoU above 0.3, or one box mostly inside the other (a face cut by a tile edge)."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    if inter == 0:
        return False
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area_a + area_b - inter) > 0.3 or inter / min(area_a, area_b) > 0.6


def _sorted(found: list[Detection]) -> list[Detection]:
    return sorted(found, key=lambda d: -d.score)


def _suppress(found: list[Detection]) -> list[Detection]:
    kept: list[Detection] = []
    for det in _sorted(found):
        if not any(_overlaps(det.box, k.box) for k in kept):
            kept.append(det)
    return kept


# --- output ------------------------------------------------------------------------------------------------------


def describe_detections(found: list[Detection]) -> str:
    """A plain-text report of the detections, saying what the detector can and cannot see."""
    if not found:
        return (
            "No faces, people or cat faces found. This detector only recognises faces, people and cat faces; "
            "other kinds of objects are not detected."
        )
    counts = Counter(d.label for d in found)
    summary = ", ".join(f"{n} {_plural(label, n)}" for label, n in counts.items())
    items = "; ".join(f"{scored(d.label, d.score)} at [{', '.join(str(v) for v in d.box)}]" for d in found)
    return f"Found {summary}: {items}. (Boxes are [xmin, ymin, xmax, ymax] in pixels.)"


def _plural(label: str, n: int) -> str:
    if n == 1:
        return label
    return "people" if label == "person" else label + "s"


def draw_detections(image: Image.Image, found: list[Detection]) -> bytes:
    """The image with a labelled box per detection (a colour per class), as PNG bytes."""
    return to_png_bytes(as_boxes(found).draw(image, palette=_COLORS))
