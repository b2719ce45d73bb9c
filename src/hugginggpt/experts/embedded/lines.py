"""Embedded line-map expert: straight line segments (mlsd-control) with OpenCV's Line Segment Detector.

ControlNet's M-LSD annotator draws the segments a learned wireframe model finds as 1-pixel white lines on black; this
expert draws the segments of LSD (von Gioi et al., "LSD: a Line Segment Detector", IPOL 2012), a parameter-free
a-contrario detector that ships with OpenCV, in the same way. No weights are involved, so nothing is loaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ...codec.image import image_slot, to_png_bytes, to_rgb_array
from ..base import Expert, ExpertOutput, ExpertResult
from ._shared import guard

# ControlNet feeds its condition at 512 px: one-pixel lines on a much larger map would fade when it is resized, so
# lines get one pixel of thickness per 512 px of the image's long side.
_CONTROL_SIDE = 512
_MAX_LISTED = 200  # segments listed in the result's data (the map holds all of them)


def detect_segments(image: Image.Image, min_length_fraction: float) -> np.ndarray[Any, Any]:
    """Straight segments of an RGB image as an N×5 float32 array ``x1, y1, x2, y2, length`` in the image's pixels,
    longest first.

    Like M-LSD, which ControlNet runs at 512×512, detection runs on the image scaled down to 512 pixels on its long
    side: the same scene then gives the same segments at any resolution, and LSD does not split a large image's
    gently curved or blurred edges into many short pieces. Segments shorter than ``min_length_fraction`` of the long
    side are dropped: LSD also reports texture, small text and the chords of curves, which M-LSD (trained on
    wireframes of buildings and rooms) does not draw.
    """
    import cv2

    w, h = image.size
    scale = min(1.0, _CONTROL_SIDE / max(w, h))
    gray = cv2.cvtColor(to_rgb_array(image), cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    # A detector per call: it is cheap to create and OpenCV's algorithm objects are not safe to share across threads.
    detector = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD)
    found = detector.detect(gray)[0]
    if found is None or not len(found):
        return np.zeros((0, 5), dtype=np.float32)
    segments = found.reshape(-1, 4).astype(np.float32) / scale
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    keep = lengths >= min_length_fraction * max(w, h)
    order = np.argsort(-lengths[keep])
    return np.column_stack([segments[keep], lengths[keep]])[order]


def draw_segments(size: tuple[int, int], segments: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """White segments on black (H×W×3 RGB uint8), as ControlNet's M-LSD annotator draws them."""
    import cv2

    w, h = size
    canvas = np.zeros((h, w), dtype=np.uint8)
    thickness = max(1, round(max(w, h) / _CONTROL_SIDE))
    for x1, y1, x2, y2, _ in segments:
        cv2.line(canvas, (round(x1), round(y1)), (round(x2), round(y2)), 255, thickness)
    return np.repeat(canvas[:, :, None], 3, axis=2)


class LineSegmentControl(Expert):
    """mlsd-control: a ControlNet M-LSD style map of straight lines from OpenCV's Line Segment Detector."""

    task = "mlsd-control"
    model_id = "hugginggpt/opencv-lsd-lines"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "Apache-2.0 (OpenCV)"
    description: ClassVar[str] = (
        "Finds the straight line segments of an image (OpenCV's Line Segment Detector) and draws them white on "
        "black, the condition map ControlNet's M-LSD model expects."
    )
    real_model: ClassVar[str] = "OpenCV LSD line segment detector (not a learned model; stands in for M-LSD)"
    limitations: ClassVar[str] = (
        "Not the learned M-LSD wireframe model: it finds every straight contrast edge, so a thick line gives its two "
        "borders, and strong shadows or printed text can add segments that M-LSD would leave out; segments shorter "
        "than 5% of the long side are dropped, so fine detail and curves give (almost) nothing."
    )
    requires: ClassVar[tuple[str, ...]] = ("cv2",)
    MIN_LENGTH_FRACTION: ClassVar[float] = 0.05

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path, image = image_slot(inputs)
        with guard("Line segment detection", path):
            segments = detect_segments(image, self.MIN_LENGTH_FRACTION)
            canvas = draw_segments(image.size, segments)
        listed = [[round(float(v), 1) for v in s] for s in segments[:_MAX_LISTED]]
        data = {
            "segments_found": len(segments),
            "segments": listed,  # [x1, y1, x2, y2, length], longest first
            "line_fraction": round(float((canvas[:, :, 0] > 0).mean()), 4),
        }
        return ExpertResult([ExpertOutput("image", data=to_png_bytes(canvas), ext=".png")], data)


EXPERTS: list[type[Expert]] = [LineSegmentControl]
