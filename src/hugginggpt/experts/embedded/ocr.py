"""OCR: read printed text and its position from an image, fully offline.

The engine is RapidOCR (``rapidocr-onnxruntime``), which ships PaddleOCR's PP-OCRv4 detector and recogniser and the
mobile angle classifier as ONNX files inside the wheel. Tesseract (``pytesseract`` plus the ``tesseract`` binary) is
used only when RapidOCR cannot be imported or loaded here.

Other experts build on :func:`read_text` (document question answering, the composite captioner). One engine is created
lazily per process and shared; calls are serialised by a lock because the engine keeps per-call state.

One deliberate change to RapidOCR's own pipeline: each detected line is padded with its background colour (after the
angle classifier, before recognition). PP-OCRv4's recogniser drops the spaces of small, tightly cropped English text
("InvoiceNo.12345"); with 35 % padding, exact lines on rendered invoices rose from 117/240 to 231/240 in our check
(4 fonts × 6 sizes × 10 lines).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ...codec.image import as_image, image_slot, to_bgr_array
from ...errors import ExpertError, ExpertUnavailable
from ...residents import LazyResident
from ..base import Expert, ExpertOutput, ExpertResult

log = logging.getLogger(__name__)

# Fraction of a line crop's height added as background on every side before recognition (see module docstring).
_CROP_PAD = 0.35
_MAX_ASPECT = 4


@dataclass(frozen=True)
class OcrLine:
    """One line of text: what it says, the recogniser's confidence (0–1) and where it is.

    ``box`` is ``(xmin, ymin, xmax, ymax)`` in pixels of the input image; ``polygon`` holds the detector's four corners
    (clockwise from top-left), which differ from the box only for rotated text.
    """

    text: str
    score: float
    box: tuple[int, int, int, int]
    polygon: tuple[tuple[int, int], ...] = ()

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def center_y(self) -> float:
        return (self.box[1] + self.box[3]) / 2

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "score": round(self.score, 4), "box": list(self.box)}


def read_text(image: str | Path | Image.Image, *, min_score: float = 0.5) -> list[OcrLine]:
    """Read the text lines of an image in reading order (top to bottom, then left to right).

    ``image`` is a path (checked and decoded by ``load_image``, so bad files raise ``ExpertInputError``) or a PIL
    image. Lines whose recognition confidence is below ``min_score`` are dropped. Returns ``[]`` when there is no text.
    Raises ``ExpertUnavailable`` when no OCR engine can be loaded.
    """
    pil = as_image(image)
    engine = _ENGINE.get()
    lines = engine.read(pil)
    return [ln for ln in lines if ln.text.strip() and ln.score >= min_score]


def join_lines(lines: Sequence[OcrLine]) -> str:
    """The text as a page: boxes on the same row joined by a space, rows by newlines.

    The detector sometimes splits one printed line into several boxes ("Total due:" and "$42.50"); grouping by
    vertical overlap puts them back together.
    """
    rows: list[list[OcrLine]] = []
    for ln in sorted(lines, key=lambda item: item.center_y):
        if rows:
            last = rows[-1]
            ref = sum(x.center_y for x in last) / len(last)
            tol = 0.5 * min(ln.height, min(x.height for x in last))
            if abs(ln.center_y - ref) <= max(tol, 1.0):
                last.append(ln)
                continue
        rows.append([ln])
    return "\n".join(" ".join(x.text.strip() for x in sorted(row, key=lambda item: item.box[0])) for row in rows)


def engine_name() -> str:
    """Which OCR engine ``read_text`` uses here: ``"rapidocr"``, ``"tesseract"`` or ``"none"`` (cheap check)."""
    engine = _ENGINE.current
    if engine is not None:
        return "rapidocr" if isinstance(engine, _RapidOcrEngine) else "tesseract"
    if importlib.util.find_spec("rapidocr_onnxruntime") is not None:
        return "rapidocr"
    if _tesseract_ready():
        return "tesseract"
    return "none"


def release() -> None:
    """Drop the shared engine (it is recreated on the next call)."""
    _ENGINE.release()


# --- engines ---------------------------------------------------------------------------------------------------------


class _RapidOcrEngine:
    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self._ocr = RapidOCR()
        self._lock = threading.Lock()
        self._padded = all(
            hasattr(self._ocr, a)
            for a in (
                "preprocess",
                "maybe_add_letterbox",
                "auto_text_det",
                "get_crop_img_list",
                "text_cls",
                "text_rec",
                "_get_origin_points",
            )
        )

    def read(self, image: Image.Image) -> list[OcrLine]:
        bgr = _pad_aspect(to_bgr_array(image))
        lines = self._read(bgr)
        w, h = image.size
        return [_clip(ln, w, h) for ln in lines if ln.box[0] < w and ln.box[1] < h]

    def _read(self, bgr: np.ndarray[Any, Any]) -> list[OcrLine]:
        with self._lock:
            if self._padded:
                try:
                    return self._read_padded(bgr)
                except (AttributeError, KeyError, TypeError) as exc:  # RapidOCR internals changed: use its own path
                    log.warning("RapidOCR padded pipeline failed (%s); using the stock pipeline", exc)
                    self._padded = False
            result, _ = self._ocr(bgr)
        out = []
        for box, text, score in result or []:
            out.append(_line(text, float(score), np.asarray(box, dtype=np.float32)))
        return out

    def _read_padded(self, bgr: np.ndarray[Any, Any]) -> list[OcrLine]:
        # Same steps as RapidOCR.__call__ (rapidocr-onnxruntime 1.4), plus background padding of each line crop.
        ocr = self._ocr
        raw_h, raw_w = bgr.shape[:2]
        img, ratio_h, ratio_w = ocr.preprocess(bgr)
        record: dict[str, Any] = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
        img, record = ocr.maybe_add_letterbox(img, record)
        boxes, _ = ocr.auto_text_det(img)
        if boxes is None or len(boxes) == 0:
            return []
        crops, _, _ = ocr.text_cls(ocr.get_crop_img_list(img, boxes))  # the angle classifier sees stock crops
        recs, _ = ocr.text_rec([_pad_crop(c) for c in crops])
        polys = ocr._get_origin_points(boxes, record, raw_h, raw_w)
        return [_line(rec[0], float(rec[1]), poly) for poly, rec in zip(polys, recs, strict=True)]


class _TesseractEngine:
    def __init__(self) -> None:
        import pytesseract

        self._pt = pytesseract
        self._pt.get_tesseract_version()  # raises when the binary is missing

    def read(self, image: Image.Image) -> list[OcrLine]:
        data = self._pt.image_to_data(image, output_type=self._pt.Output.DICT)
        groups: dict[tuple[int, int, int], list[int]] = {}
        for i, word in enumerate(data["text"]):
            if str(word).strip() and float(data["conf"][i]) >= 0:
                groups.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
        out = []
        for idx in groups.values():
            x0 = min(data["left"][i] for i in idx)
            y0 = min(data["top"][i] for i in idx)
            x1 = max(data["left"][i] + data["width"][i] for i in idx)
            y1 = max(data["top"][i] + data["height"][i] for i in idx)
            text = " ".join(str(data["text"][i]).strip() for i in idx)
            score = sum(float(data["conf"][i]) for i in idx) / len(idx) / 100.0
            poly = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
            out.append(_line(text, score, poly))
        out.sort(key=lambda ln: (ln.box[1], ln.box[0]))
        return out


def _pad_crop(crop: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import cv2

    h = crop.shape[0]
    pad = max(1, round(h * _CROP_PAD))
    border = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    background = [int(v) for v in np.median(border, axis=0)]
    return cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=background)


def _pad_aspect(bgr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Pad very thin images (bottom or right) to at most 4:1 with their border colour.

    RapidOCR scales the detector input so that its *shorter* side is 736 pixels: a 12×2000 strip became 736×122,000
    and took minutes. Padding keeps coordinates unchanged.
    """
    import cv2

    h, w = bgr.shape[:2]
    if max(h, w) <= _MAX_ASPECT * min(h, w):
        return bgr
    border = np.concatenate([bgr[0], bgr[-1], bgr[:, 0], bgr[:, -1]])
    background = [int(v) for v in np.median(border, axis=0)]
    bottom = max(0, -(-w // _MAX_ASPECT) - h)
    right = max(0, -(-h // _MAX_ASPECT) - w)
    return cv2.copyMakeBorder(bgr, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=background)


def _clip(line: OcrLine, w: int, h: int) -> OcrLine:
    x0, y0, x1, y1 = line.box
    if x1 <= w and y1 <= h:
        return line
    poly = tuple((min(x, w), min(y, h)) for x, y in line.polygon)
    return OcrLine(line.text, line.score, (x0, y0, min(x1, w), min(y1, h)), poly)


def _line(text: str, score: float, poly: np.ndarray[Any, Any]) -> OcrLine:
    pts = tuple((round(float(x)), round(float(y))) for x, y in poly.reshape(-1, 2))
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return OcrLine(str(text).strip(), score, (min(xs), min(ys), max(xs), max(ys)), pts)


def _tesseract_ready() -> bool:
    if importlib.util.find_spec("pytesseract") is None:
        return False
    import shutil

    return shutil.which("tesseract") is not None


def _create_engine() -> _RapidOcrEngine | _TesseractEngine:
    reasons = []
    try:
        return _RapidOcrEngine()
    except Exception as exc:  # noqa: BLE001 - any import/load failure means "try the fallback"
        reasons.append(f"rapidocr-onnxruntime: {type(exc).__name__}: {exc}")
    if _tesseract_ready():
        try:
            engine = _TesseractEngine()
            log.warning("RapidOCR unavailable (%s); using tesseract", reasons[0])
            return engine
        except Exception as exc:  # noqa: BLE001
            reasons.append(f"tesseract: {type(exc).__name__}: {exc}")
    else:
        reasons.append("tesseract: pytesseract or the tesseract binary is not installed")
    raise ExpertUnavailable(
        "No OCR engine can be loaded: " + "; ".join(reasons) + ".",
        hint="Install rapidocr-onnxruntime (bundles its models) or pytesseract + tesseract-ocr.",
    )


_ENGINE: LazyResident[_RapidOcrEngine | _TesseractEngine] = LazyResident("OCR engine", _create_engine)


# --- expert ----------------------------------------------------------------------------------------------------------


class OcrExpert(Expert):
    """image-to-text by reading the printed text in the image (no description of the scene)."""

    task = "image-to-text"
    model_id = "hugginggpt/pp-ocrv4-reader"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "Apache-2.0"
    description: ClassVar[str] = (
        "Reads the printed text in an image (OCR): PaddleOCR PP-OCRv4 text detection and recognition run by "
        "RapidOCR on ONNX Runtime. Returns the text line by line with confidences and boxes."
    )
    real_model: ClassVar[str] = "PaddleOCR ch_PP-OCRv4 det + rec, ch_ppocr_mobile_v2.0 cls (rapidocr-onnxruntime)"
    limitations: ClassVar[str] = (
        "Only reads text; it does not describe the scene (use the composite captioner for that). Printed Latin and "
        "Chinese text; handwriting and stylised fonts are read poorly; about 0.5–2 s per image on a CPU."
    )
    requires: ClassVar[tuple[str, ...]] = ("rapidocr_onnxruntime", "onnxruntime", "cv2")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        ok, why = super().availability()
        if not ok and _tesseract_ready():
            return True, "installed (tesseract fallback)"
        return ok, why

    def _load(self) -> None:
        _ENGINE.get()

    def _unload(self) -> None:
        release()

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path, image = image_slot(inputs)
        try:
            lines = read_text(image)
        except ExpertError:
            raise
        except Exception as exc:  # a bug or runtime failure inside the engine: report it as an expert error
            raise ExpertError(f"OCR failed on {path.name}: {type(exc).__name__}: {exc}") from exc
        text = join_lines(lines)
        data = {"lines": [ln.to_dict() for ln in lines], "text": text, "engine": engine_name()}
        return ExpertResult([ExpertOutput("text", text=text or "No text found in the image.")], data)


EXPERTS: list[type[Expert]] = [OcrExpert]
