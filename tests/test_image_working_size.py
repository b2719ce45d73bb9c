"""Images are decoded at a bounded working size (``max_image_side``): a large input is downscaled once, right after
decoding, so what an expert holds does not grow with the input; the file is kept, and detections are reported in
its pixels. Inputs are generated here: a large-dimension PNG, a rotated JPEG."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from hugginggpt.codec.image import load_image, original_size, to_rgb_array
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.experts.embedded._detect import Detection
from hugginggpt.experts.embedded.vision import _in_file_pixels
from hugginggpt.imaging import max_image_side, set_max_image_side


def _big_png(path: Path, size: tuple[int, int] = (4800, 3600)) -> Path:
    Image.new("RGB", size, (90, 160, 30)).save(path, compress_level=1)
    return path


def test_a_large_image_is_decoded_at_the_working_size(tmp_path: Path) -> None:
    path = _big_png(tmp_path / "big.png")
    image = load_image(path, max_side=1024)
    assert image.size == (1024, 768) and image.mode == "RGB"
    assert original_size(image) == (4800, 3600)
    assert image.getpixel((500, 400)) == (90, 160, 30)
    small = load_image(_big_png(tmp_path / "small.png", (300, 200)), max_side=1024)
    assert small.size == (300, 200) and original_size(small) == (300, 200)


def test_the_process_wide_side_comes_from_the_configuration(tmp_path: Path) -> None:
    assert HuggingGPTConfig().max_image_side == 2048
    before = max_image_side()
    try:
        set_max_image_side(640)
        assert load_image(_big_png(tmp_path / "big.png")).size == (640, 480)
    finally:
        set_max_image_side(before)


def test_memory_of_the_loading_path_is_bounded_by_the_working_size(tmp_path: Path) -> None:
    """The arrays an expert makes from a 17-megapixel image (52 MB as RGB) stay within a few working images."""
    path = _big_png(tmp_path / "big.png")
    tracemalloc.start()
    try:
        rgb = to_rgb_array(load_image(path, max_side=1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rgb.shape == (768, 1024, 3)
    assert peak < 4 * 1024 * 768 * 3, peak  # one working RGB array is 2.4 MB; the full size would be 52 MB


def test_exif_rotation_is_applied_after_downscaling(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated a quarter turn
    pixels = np.zeros((1500, 3000, 3), np.uint8)
    pixels[:, :1500] = (255, 0, 0)  # the left half red
    Image.fromarray(pixels).save(tmp_path / "r.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "r.jpg", max_side=600)
    assert image.size == (300, 600) and original_size(image) == (1500, 3000)
    top, bottom = image.getpixel((150, 50)), image.getpixel((150, 550))
    assert top[0] > 200 > bottom[0]  # upright: the stored left half is at the top


def test_detections_are_reported_in_pixels_of_the_file(tmp_path: Path) -> None:
    image = load_image(_big_png(tmp_path / "big.png"), max_side=1200)  # a quarter of each side
    found = [Detection("face", 0.9, (100, 50, 200, 150), "test")]
    assert _in_file_pixels(found, image)[0].box == (400, 200, 800, 600)
    assert _in_file_pixels(found, Image.new("RGB", (300, 300))) == found
