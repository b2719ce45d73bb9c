"""Embedded vision experts on real inputs: PIL-drawn images and a real photo shipped with matplotlib.

Everything here loads real models (EfficientNet-lite0, mediapipe, OpenCV, RapidOCR), hence the ``slow`` marker on
those tests; the input-checking tests at the top need no model.
"""

from __future__ import annotations

import io
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from hugginggpt.codec.image import image_slot, load_image, to_png_bytes
from hugginggpt.errors import ExpertInputError, ExpertUnavailable
from hugginggpt.experts.base import Expert, ExpertResult
from hugginggpt.experts.embedded import _detect, caption, ocr, vision
from hugginggpt.experts.embedded._detect import detect_faces
from hugginggpt.experts.registry import embedded_expert_classes
from hugginggpt.tasks import default_registry

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


# --- vision experts ----------------------------------------------------------------------------------------------

ALL_EXPERTS = [*vision.EXPERTS, *caption.EXPERTS, *ocr.EXPERTS]


def _png(data: bytes | None) -> Image.Image:
    assert data is not None and data[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _image_output(result: ExpertResult) -> Image.Image:
    images = [o for o in result.outputs if o.kind == "image"]
    assert len(images) == 1 and images[0].ext == ".png"
    return _png(images[0].data)


def _text_output(result: ExpertResult) -> str:
    texts = [o for o in result.outputs if o.kind == "text"]
    assert len(texts) == 1 and texts[0].text
    return texts[0].text


@pytest.mark.parametrize("expert_cls", ALL_EXPERTS, ids=lambda c: c.__name__)
def test_expert_cards_are_complete_and_tasks_exist(expert_cls: type[Expert]) -> None:
    card = expert_cls.card()
    assert card.task in default_registry()
    assert card.model_id.startswith("hugginggpt/")
    for field in ("license", "description", "real_model", "limitations"):
        assert getattr(card, field), f"{expert_cls.__name__}.{field} is empty"
    assert card.packages, "requires must name the modules the expert imports"
    ok, why = expert_cls.availability()
    assert ok, why


def test_experts_are_registered_and_ids_unique() -> None:
    classes = embedded_expert_classes()
    for cls in ALL_EXPERTS:
        assert cls in classes
    ids = [c.model_id for c in ALL_EXPERTS]
    assert len(ids) == len(set(ids))


def test_cards_tell_the_truth_about_limits() -> None:
    detector = vision.FacePersonDetector.card()
    for cls in ("face", "person", "cat face"):
        assert cls in detector.description + detector.limitations
    assert "only three classes" in detector.limitations
    captioner = caption.CompositeCaptioner.card()
    assert "composite" in captioner.description and "not a neural captioning model" in captioner.description
    assert "Not a neural captioner" in captioner.limitations


@pytest.mark.parametrize("expert_cls", ALL_EXPERTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", ["text_file", "missing", "truncated", "empty"])
def test_experts_reject_bad_images(images: dict[str, Path], expert_cls: type[Expert], bad: str) -> None:
    with pytest.raises(ExpertInputError) as info:
        expert_cls().run({"image": images[bad]})
    assert images[bad].name in str(info.value)


@pytest.mark.slow
def test_classifier_top5_on_grace_hopper(grace_hopper: Path) -> None:
    result = vision.ImageClassifier().run({"image": grace_hopper})
    labels = [item["label"] for item in result.data["labels"]]
    scores = [item["score"] for item in result.data["labels"]]
    assert len(labels) == 5 and scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0
    # She wears a US Navy uniform: what EfficientNet-Lite0 sees is uniform/gown/cap/tie territory.
    assert "military uniform" in labels
    assert labels[0] in {"academic gown", "graduation cap", "military uniform", "suit", "Windsor tie", "bow tie"}
    text = _text_output(result)
    assert text.startswith(f"{labels[0]} ({scores[0]:.2f}), ") and text.count(",") == 4


@pytest.mark.slow
def test_classify_is_deterministic_and_shared(grace_hopper: Path) -> None:
    import torch

    threads = torch.get_num_threads()
    image = load_image(grace_hopper)
    assert vision.classify(image, top_k=3) == vision.classify(image, top_k=3)
    assert vision.CLASSIFIER.loaded
    assert torch.get_num_threads() == threads  # the single-thread forward pass leaves torch's setting alone


@pytest.mark.slow
def test_detector_finds_grace_hoppers_face_and_person(grace_hopper: Path) -> None:
    result = vision.FacePersonDetector().run({"image": grace_hopper})
    objects = result.data["objects"]
    faces = [o for o in objects if o["label"] == "face"]
    people = [o for o in objects if o["label"] == "person"]
    assert len(faces) == 1 and faces[0]["score"] > 0.8
    box = faces[0]["box"]
    cx, cy = (box["xmin"] + box["xmax"]) / 2, (box["ymin"] + box["ymax"]) / 2
    assert 200 < cx < 340 and 180 < cy < 300  # her face, not the stars of the flag behind her
    assert len(people) == 1 and not [o for o in objects if o["label"] == "cat face"]
    assert result.data["classes_supported"] == ["face", "person", "cat face"]
    text = _text_output(result)
    assert "1 face" in text and "face (0.9" in text and "person" in text
    annotated = _image_output(result)
    assert annotated.size == (512, 600)
    assert annotated.convert("RGB").tobytes() != load_image(grace_hopper).tobytes()  # boxes were drawn


@pytest.mark.slow
@pytest.mark.parametrize("name", ["shapes", "sign", "invoice"])
def test_detector_claims_nothing_on_images_without_faces_or_people(images: dict[str, Path], name: str) -> None:
    result = vision.FacePersonDetector().run({"image": images[name]})
    assert result.data["objects"] == []
    assert "only recognises faces, people and cat faces" in _text_output(result)
    assert _image_output(result).size == load_image(images[name]).size


@pytest.mark.slow
def test_detector_finds_several_faces_at_different_sizes(grace_hopper: Path) -> None:
    photo = load_image(grace_hopper)
    group = Image.new("RGB", (1280, 720), (120, 140, 160))
    x = 20
    for scale in (0.3, 0.45, 0.7):  # faces about 70, 100 and 150 pixels wide
        group.paste(photo.resize((int(512 * scale), int(600 * scale))), (x, 40))
        x += int(512 * scale) + 40
    faces = [d for d in detect_faces(group) if d.label == "face"]
    assert len(faces) == 3
    assert len({d.box[0] // 100 for d in faces}) == 3  # three distinct faces, not one found three times


@pytest.mark.slow
def test_detector_falls_back_to_haar_faces_without_mediapipe(
    grace_hopper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_detect, "mediapipe_ready", lambda: False)
    found = _detect.detect_objects(load_image(grace_hopper))
    faces = [d for d in found if d.label == "face"]
    assert len(faces) == 1 and faces[0].source == "opencv-haar-frontalface"
    assert not [d for d in found if d.source == "mediapipe-pose"]


@pytest.mark.slow
def test_segmentation_mask_on_grace_hopper_and_shapes(grace_hopper: Path, images: dict[str, Path]) -> None:
    result = vision.PersonSegmenter().run({"image": grace_hopper})
    mask = _image_output(result)
    assert mask.mode == "L" and mask.size == (512, 600)
    assert set(np.unique(np.asarray(mask)).tolist()) <= {0, 255}
    assert 0.3 < result.data["person_fraction"] < 0.9 and result.data["person_found"]
    assert result.data["segments"][0]["label"] == "person"
    empty = vision.PersonSegmenter().run({"image": images["shapes"]})
    assert empty.data["person_fraction"] < 0.01 and not empty.data["person_found"]
    assert _image_output(empty).size == (640, 480)


@pytest.mark.slow
def test_openpose_map_on_grace_hopper_and_shapes(grace_hopper: Path, images: dict[str, Path]) -> None:
    result = vision.OpenPoseControl().run({"image": grace_hopper})
    pose = _image_output(result)
    assert pose.mode == "RGB" and pose.size == (512, 600)
    pixels = np.asarray(pose)
    assert pixels.any() and (pixels.sum(axis=2) == 0).mean() > 0.8  # a skeleton on black
    assert result.data["people"] == 1
    assert {"nose", "neck", "left_shoulder", "right_shoulder", "left_eye", "right_eye"} <= set(result.data["keypoints"])
    nose_x, nose_y, _ = result.data["keypoints"]["nose"]
    assert 200 < nose_x < 340 and 180 < nose_y < 300
    nobody = vision.OpenPoseControl().run({"image": images["shapes"]})
    assert nobody.data == {"people": 0, "keypoints": {}}
    assert not np.asarray(_image_output(nobody)).any()


@pytest.mark.slow
def test_canny_map_matches_opencv_with_jarvis_thresholds(grace_hopper: Path, images: dict[str, Path]) -> None:
    import cv2

    for path in (grace_hopper, images["shapes"]):
        result = vision.CannyControl().run({"image": path})
        edges = _image_output(result)
        rgb = load_image(path)
        assert edges.mode == "RGB" and edges.size == rgb.size
        expected = cv2.Canny(np.asarray(rgb), 100, 200)
        assert np.array_equal(np.asarray(edges)[:, :, 0], expected)
        assert 0 < result.data["edge_fraction"] < 0.5


@pytest.mark.slow
def test_caption_of_grace_hopper(grace_hopper: Path) -> None:
    result = caption.CompositeCaptioner().run({"image": grace_hopper})
    text = _text_output(result)
    assert text.startswith("A photo that")
    assert "1 face and 1 person detected." in text
    assert result.data["components"] == {"classifier": "ok", "detector": "ok", "ocr": "ok"}
    assert result.data["labels"][0]["label"] in text


@pytest.mark.slow
@pytest.mark.parametrize(("name", "quoted"), [("sign", "SALE 50%"), ("invoice", " / ".join(INVOICE_LINES))])
def test_caption_quotes_the_text_in_the_image(images: dict[str, Path], name: str, quoted: str) -> None:
    result = caption.CompositeCaptioner().run({"image": images[name]})
    text = _text_output(result)
    assert f"Text in the image: '{quoted}'." in text
    assert text.startswith("An image containing text.")
    assert "detected" not in text  # no faces or people in a drawn sign


@pytest.mark.slow
def test_caption_skips_a_component_that_cannot_load(images: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_ocr(*args: object, **kwargs: object) -> list[ocr.OcrLine]:
        raise ExpertUnavailable("No OCR engine can be loaded.")

    monkeypatch.setattr(caption, "read_text", no_ocr)
    result = caption.CompositeCaptioner().run({"image": images["sign"]})
    assert result.data["components"]["ocr"].startswith("unavailable")
    assert "Text in the image" not in _text_output(result)


@pytest.mark.slow
@pytest.mark.timeout(360)  # waits up to 300 s for the calls
def test_experts_can_run_concurrently(grace_hopper: Path) -> None:
    experts = [vision.ImageClassifier(), vision.FacePersonDetector(), vision.OpenPoseControl(),
               vision.PersonSegmenter(), caption.CompositeCaptioner()]  # fmt: skip
    expected = [e.run({"image": grace_hopper}).data for e in experts]
    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [pool.submit(e.run, {"image": grace_hopper}) for e in experts for _ in range(2)]
        results = [f.result(timeout=300).data for f in futures]
    assert results == [d for d in expected for _ in range(2)]


@pytest.mark.slow
@pytest.mark.parametrize("size", [(1, 1), (128, 64), (2000, 12), (12, 2000)])
def test_experts_survive_tiny_and_thin_images(tmp_path: Path, size: tuple[int, int]) -> None:
    # OpenCV's HOG corrupted the heap (and killed the process) on a 128×64 input before the size guard.
    path = tmp_path / "odd.png"
    Image.new("RGB", size, (200, 120, 40)).save(path)
    for cls in ALL_EXPERTS:
        result = cls().run({"image": path})
        for out in result.outputs:
            if out.kind == "image":
                assert _png(out.data).size == size
    assert _detect.detect_objects(load_image(path)) == []


def test_tesseract_fallback_groups_words_into_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback engine's parsing of ``image_to_data`` (tesseract itself is not installed here)."""
    words = [  # (text, conf, block, par, line, left, top, width, height)
        ("", -1, 1, 1, 1, 0, 0, 640, 220),
        ("Invoice", 96, 1, 1, 1, 24, 40, 110, 30),
        ("No.", 95, 1, 1, 1, 140, 40, 40, 30),
        ("12345", 91, 1, 1, 1, 186, 40, 90, 30),
        ("Total", 97, 1, 1, 2, 24, 130, 70, 30),
        ("due:", 93, 1, 1, 2, 100, 130, 60, 30),
        ("$42.50", 90, 1, 1, 2, 166, 130, 100, 30),
    ]
    keys = ("text", "conf", "block_num", "par_num", "line_num", "left", "top", "width", "height")
    data = {k: [w[i] for w in words] for i, k in enumerate(keys)}
    fake = types.SimpleNamespace(
        Output=types.SimpleNamespace(DICT="dict"),
        get_tesseract_version=lambda: "5.3.0",
        image_to_data=lambda image, output_type: data,
    )
    monkeypatch.setitem(sys.modules, "pytesseract", fake)
    lines = ocr._TesseractEngine().read(Image.new("RGB", (640, 220), "white"))
    assert [ln.text for ln in lines] == list(INVOICE_LINES)
    assert lines[0].box == (24, 40, 276, 70) and lines[1].box == (24, 130, 266, 160)
    assert lines[0].score == pytest.approx((96 + 95 + 91) / 300)
