"""An expert that cannot read an input file says so with the name the user gave the file (trunc.wav), not the name of
the content-addressed copy it read (2e80ce5f...6110.wav): with several inputs, the user can tell which is broken."""

from __future__ import annotations

import io
import re
import wave

from PIL import Image

from hugginggpt import HuggingGPT, HuggingGPTConfig


def test_broken_inputs_are_named_as_the_user_named_them(tmp_path):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x01" * 16000)
    (tmp_path / "trunc.wav").write_bytes(buf.getvalue()[:30])  # the header, cut inside
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, format="JPEG")
    (tmp_path / "trunc.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path / "ws", allowed_dirs=[tmp_path]), base_dir=tmp_path)
    result = agent.run("Transcribe trunc.wav. Describe trunc.jpg.")
    errors = {r.task.args.get("audio") or r.task.args.get("image"): r.error for r in result.results}
    assert set(errors) == {"trunc.wav", "trunc.jpg"}
    for name, error in errors.items():
        assert error is not None and error.type == "ExpertInputError", error
        assert name in error.message, error.message
        assert re.search("[0-9a-f]{64}", error.message) is None, error.message  # no store copy's name
