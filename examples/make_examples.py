"""Generate the demo inputs offline: photos that ship in installed packages, PIL-drawn text, synthesized speech.

Usage: python examples/make_examples.py [OUT_DIR]   (default: examples/)
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SPEECH = ("The city council met on Tuesday to discuss the new park. "
          "The plan adds a playground, a small lake and three kilometres of walking paths. "
          "Construction will start next spring and should take about a year. "
          "Local businesses welcomed the decision.")


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def poster(out: Path) -> Path:
    """The scikit-image astronaut photo with a caption band: a face, a person and readable text."""
    import skimage.data

    photo = Image.fromarray(skimage.data.astronaut())
    canvas = Image.new("RGB", (photo.width, photo.height + 90), "white")
    canvas.paste(photo, (0, 0))
    ImageDraw.Draw(canvas).text((20, photo.height + 22), "SPACE MUSEUM OPEN DAY", fill="black", font=_font(36))
    path = out / "poster.png"
    canvas.save(path)
    return path


def cat(out: Path) -> Path:
    import skimage.data

    path = out / "cat.jpg"
    Image.fromarray(skimage.data.chelsea()).save(path, quality=92)
    return path


def invoice(out: Path) -> Path:
    img = Image.new("RGB", (640, 260), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(["ACME Supplies Ltd.", "Invoice No. 12345", "Date: 2026-03-14", "Total due: $42.50"]):
        draw.text((30, 25 + 55 * i), line, fill="black", font=_font(36))
    path = out / "invoice.png"
    img.save(path)
    return path


def speech(out: Path) -> Path:
    """Speech synthesized offline by the embedded text-to-speech expert."""
    from hugginggpt.experts.registry import experts_for_task

    for cls in experts_for_task("text-to-speech"):
        if cls.availability()[0]:
            expert = cls()
            expert.load()
            audio = expert.run({"text": SPEECH}).outputs[0]
            path = out / "speech.wav"
            path.write_bytes(audio.data or b"")
            return path
    raise SystemExit("No text-to-speech expert is installed; run `make setup`.")


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for make in (poster, cat, invoice, speech):
        target = out / {"poster": "poster.png", "cat": "cat.jpg", "invoice": "invoice.png",
                        "speech": "speech.wav"}[make.__name__]
        made.append(target if target.exists() else make(out))
    return made


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent):
        print(p)
