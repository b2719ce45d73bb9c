"""mlsd-control with OpenCV's Line Segment Detector: the map's white pixels lie on the lines drawn into a generated
image and cover them, on a black background, at the input's size."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hugginggpt.backends.embedded import EmbeddedBackend
from hugginggpt.catalog.cards import Catalog
from hugginggpt.catalog.selector import Selector
from hugginggpt.errors import ExpertInputError
from hugginggpt.experts.embedded.lines import LineSegmentControl
from hugginggpt.experts.pool import ExpertPool

cv2 = pytest.importorskip("cv2")

SEGMENTS = [((40, 60), (600, 90)), ((100, 400), (520, 150)), ((320, 20), (330, 460)), ((60, 300), (250, 300))]


def scene(tmp_path: Path, size: tuple[int, int] = (640, 480), seed: int = 1) -> tuple[Path, np.ndarray]:
    """A grey, noisy picture with dark 3-pixel lines, a filled disc (curved: no line) and the 1-pixel truth mask."""
    w, h = size
    rng = np.random.default_rng(seed)
    image = np.clip(170 + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)
    truth = np.zeros((h, w), dtype=np.uint8)
    sx, sy = w / 640, h / 480
    for (x1, y1), (x2, y2) in SEGMENTS:
        a, b = (round(x1 * sx), round(y1 * sy)), (round(x2 * sx), round(y2 * sy))
        cv2.line(image, a, b, (30, 30, 30), 3, cv2.LINE_AA)
        cv2.line(truth, a, b, 255, 1)
    cv2.circle(image, (round(480 * sx), round(360 * sy)), round(60 * sx), (90, 120, 200), -1, cv2.LINE_AA)
    path = tmp_path / "lines.png"
    Image.fromarray(image).save(path)
    return path, truth > 0


def near(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), dtype=np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def line_map(result) -> np.ndarray:
    out = result.outputs[0]
    assert out.kind == "image" and out.ext == ".png"
    return np.asarray(Image.open(io.BytesIO(out.data)).convert("RGB"))


@pytest.mark.parametrize("size", [(640, 480), (1600, 1200)])
def test_line_map_holds_the_drawn_lines_and_little_else(tmp_path, size):
    path, truth = scene(tmp_path, size)
    result = LineSegmentControl().run({"image": path})
    rgb = line_map(result)
    assert rgb.shape[:2] == truth.shape  # the input's size
    assert set(np.unique(rgb)) <= {0, 255} and (rgb[:, :, 0] == rgb[:, :, 2]).all()  # white on black only
    white = rgb[:, :, 0] > 0
    tolerance = 4 * max(1, round(max(size) / 512))  # a 3-px line gives its two borders, drawn thicker when large
    precision = (white & near(truth, tolerance)).sum() / white.sum()
    recall = (truth & near(white, tolerance)).sum() / truth.sum()
    assert precision >= 0.95, precision  # the disc's curved border and the noise give (almost) no segment
    assert recall >= 0.9, recall
    assert white.mean() < 0.1
    data = result.data
    assert data["segments_found"] >= len(SEGMENTS) and len(data["segments"]) == min(200, data["segments_found"])
    lengths = [s[4] for s in data["segments"]]
    assert lengths == sorted(lengths, reverse=True) and lengths[0] > 0.4 * max(size)  # the long lines are whole


def test_flat_image_gives_a_black_map(tmp_path):
    path = tmp_path / "flat.png"
    Image.new("RGB", (300, 200), (120, 130, 140)).save(path)
    result = LineSegmentControl().run({"image": path})
    assert not line_map(result).any()
    assert result.data["segments_found"] == 0 and result.data["segments"] == []


def test_short_texture_strokes_are_dropped(tmp_path):
    """Strokes under 5 % of the long side (texture, small text) are not drawn: M-LSD draws structure, not detail."""
    image = np.full((400, 600, 3), 200, dtype=np.uint8)
    rng = np.random.default_rng(0)
    for _ in range(60):
        x, y = int(rng.integers(20, 580)), int(rng.integers(20, 380))
        cv2.line(image, (x, y), (x + 8, y + int(rng.integers(-4, 5))), (20, 20, 20), 2)
    path = tmp_path / "strokes.png"
    Image.fromarray(image).save(path)
    assert LineSegmentControl().run({"image": path}).data["segments_found"] == 0


def test_bad_input_is_an_input_error(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    for inputs in ({"image": broken}, {"image": tmp_path / "absent.png"}, {}):
        with pytest.raises(ExpertInputError):
            LineSegmentControl().run(inputs)


def test_selected_for_mlsd_control():
    found, _ = Selector(Catalog.default(), [EmbeddedBackend(ExpertPool())]).candidates("mlsd-control")
    assert found and found[0].card.id == LineSegmentControl.model_id and found[0].backend == "embedded"
