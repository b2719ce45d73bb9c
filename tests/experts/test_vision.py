"""Embedded vision experts on real inputs: PIL-drawn images and a real photo shipped with matplotlib.

Everything here loads real models (EfficientNet-lite0, mediapipe, OpenCV, RapidOCR), hence the ``slow`` marker on
those tests; the input-checking tests at the top need no model.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from hugginggpt.errors import ExpertInputError
from hugginggpt.experts.base import ExpertResult
from hugginggpt.experts.embedded import ocr
from hugginggpt.experts.embedded._image import image_slot, load_image, to_png_bytes

INVOICE_LINES = ("Invoice No. 12345", "Total due: $42.50")


# --- inputs ------------------------------------------------------------------------------------------------------


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # Pillow >= 10.1 bundles a scalable TTF (Aileron)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated test images plus the real photo, written once per module."""
    d = tmp_path_factory.mktemp("vision")
    out: dict[str, Path] = {}

    invoice = Image.new("RGB", (640, 220), "white")
    draw = ImageDraw.Draw(invoice)
    draw.text((24, 40), INVOICE_LINES[0], fill="black", font=_font(32))
    draw.text((24, 130), INVOICE_LINES[1], fill="black", font=_font(32))
    out["invoice"] = d / "invoice.png"
    invoice.save(out["invoice"])

    shapes = Image.new("RGB", (640, 480), (250, 250, 245))
    draw = ImageDraw.Draw(shapes)
    draw.rectangle((60, 60, 260, 260), fill=(200, 30, 30))
    draw.ellipse((340, 120, 580, 360), fill=(30, 60, 200))
    out["shapes"] = d / "shapes.png"
    shapes.save(out["shapes"])

    sign = Image.new("RGB", (480, 240), (255, 230, 0))
    ImageDraw.Draw(sign).text((60, 70), "SALE 50%", fill="black", font=_font(72))
    out["sign"] = d / "sign.png"
    sign.save(out["sign"])

    # Text drawn on a transparent background: must come out readable, not black on black.
    transparent = Image.new("RGBA", (420, 120), (0, 0, 0, 0))
    ImageDraw.Draw(transparent).text((20, 30), "HELLO WORLD", fill=(0, 0, 0, 255), font=_font(48))
    out["transparent"] = d / "transparent.png"
    transparent.save(out["transparent"])

    out["text_file"] = d / "notes.txt"
    out["text_file"].write_text("this is not an image\n")
    png = io.BytesIO()
    shapes.save(png, format="PNG")
    out["truncated"] = d / "truncated.png"
    out["truncated"].write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    out["empty"] = d / "empty.jpg"
    out["empty"].write_bytes(b"")
    out["missing"] = d / "does-not-exist.png"
    return out


@pytest.fixture(scope="module")
def grace_hopper() -> Path:
    cbook = pytest.importorskip("matplotlib.cbook")
    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


# --- image loading -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("text_file", "not an image"),
        ("truncated", "broken or truncated"),
        ("empty", "empty"),
        ("missing", "not found"),
    ],
)
def test_load_image_rejects_bad_files(images: dict[str, Path], name: str, message: str) -> None:
    with pytest.raises(ExpertInputError, match=message):
        load_image(images[name])


def test_load_image_flattens_transparency_onto_white(images: dict[str, Path]) -> None:
    img = load_image(images["transparent"])
    assert img.mode == "RGB"
    assert img.getpixel((2, 2)) == (255, 255, 255)


def test_image_slot_wants_a_path() -> None:
    with pytest.raises(ExpertInputError, match="needs an image file"):
        image_slot({"image": 42})
    with pytest.raises(ExpertInputError, match="needs an image file"):
        image_slot({})


def test_to_png_bytes_round_trips(images: dict[str, Path]) -> None:
    img = load_image(images["shapes"])
    again = Image.open(io.BytesIO(to_png_bytes(img)))
    assert again.format == "PNG" and again.size == img.size


# --- OCR ---------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_read_text_reads_rendered_invoice(images: dict[str, Path]) -> None:
    lines = ocr.read_text(images["invoice"])
    assert [ln.text for ln in lines] == list(INVOICE_LINES)
    for ln in lines:
        assert 0.5 <= ln.score <= 1.0
        x0, y0, x1, y1 = ln.box
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 220
    assert lines[0].box[1] < lines[1].box[1]  # reading order
    assert ocr.join_lines(lines) == "\n".join(INVOICE_LINES)


@pytest.mark.slow
def test_read_text_accepts_pil_images_and_finds_nothing_in_shapes(images: dict[str, Path]) -> None:
    assert ocr.read_text(load_image(images["shapes"])) == []
    assert [ln.text for ln in ocr.read_text(images["transparent"])] == ["HELLO WORLD"]


@pytest.mark.slow
def test_read_text_rejects_bad_files(images: dict[str, Path]) -> None:
    for name in ("text_file", "truncated", "missing"):
        with pytest.raises(ExpertInputError):
            ocr.read_text(images[name])


def test_join_lines_merges_boxes_on_one_row() -> None:
    lines = [
        ocr.OcrLine("$42.50", 0.99, (300, 118, 400, 148)),
        ocr.OcrLine("Invoice No. 12345", 0.99, (21, 38, 281, 64)),
        ocr.OcrLine("Total due:", 0.99, (21, 115, 163, 146)),
    ]
    assert ocr.join_lines(lines) == "Invoice No. 12345\nTotal due: $42.50"
    assert ocr.join_lines([]) == ""


@pytest.mark.slow
def test_ocr_expert_returns_text_and_lines(images: dict[str, Path]) -> None:
    result = ocr.OcrExpert().run({"image": images["invoice"]})
    assert isinstance(result, ExpertResult)
    assert result.outputs[0].kind == "text"
    assert result.outputs[0].text == "\n".join(INVOICE_LINES)
    assert [line["text"] for line in result.data["lines"]] == list(INVOICE_LINES)
    empty = ocr.OcrExpert().run({"image": images["shapes"]})
    assert empty.outputs[0].text == "No text found in the image." and empty.data["lines"] == []
