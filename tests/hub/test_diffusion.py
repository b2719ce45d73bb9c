"""The diffusion code path of the transformers backend end to end inside plans: tiny random-weight Stable Diffusion,
ControlNet and text-to-video pipelines built offline (tests/hub/tiny_models.py), referenced by user catalog entries,
selected by the real selector and run by the scheduler with 2 denoising steps; outputs checked as artifacts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hugginggpt.backends.transformers import TransformersBackend
from hugginggpt.catalog.cards import ModelCard
from hugginggpt.experts.hub.diffusion_tasks import fit_size
from hugginggpt.experts.pool import ExpertPool

PNG = b"\x89PNG\r\n\x1a\n"
STEPS = 2


@pytest.fixture(scope="module")
def diffusers_tiny(tiny: Callable[[str], Path]) -> Callable[[str], Path]:
    pytest.importorskip("diffusers")
    return tiny


def _only_result(run: Any) -> Any:
    assert run.error is None, run.error
    [result] = run.results
    assert result.status == "ok", result.error
    assert (result.choice.backend, result.data["backend"], result.data["device"]) == ("transformers",) * 2 + ("cpu",)
    return result


def _png_size(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == PNG
    with Image.open(path) as im:
        im.load()  # decodes every row: a truncated or corrupt file fails here
        assert im.mode == "RGB"
        # NaN latents (e.g. a wrong dtype) decode to a uniformly black image; random weights give varied pixels.
        assert any(lo < hi for lo, hi in im.getextrema())
        return im.size


@pytest.mark.parametrize(("size", "native", "multiple", "expected"), [
    ((96, 64), 64, 16, (64, 48)),
    ((4000, 3000), 512, 64, (512, 384)),
    ((200, 100), 512, 64, (512, 256)),  # small inputs are brought up to the size the model was trained at
    ((100, 1000), 512, 64, (64, 512)),  # a very thin side keeps one multiple rather than collapsing to zero
])
def test_fit_size_keeps_aspect_on_the_native_grid(size: tuple[int, int], native: int, multiple: int,
                                                  expected: tuple[int, int]) -> None:
    assert fit_size(size, native, multiple) == expected


@pytest.mark.slow
def test_text_to_image_in_a_plan(diffusers_tiny, make_agent) -> None:
    agent = make_agent([{"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat on a mat"}}],
                       cards=[{"id": "tiny/sd", "task": "text-to-image", "path": str(diffusers_tiny("text-to-image"))}],
                       diffusion_steps=STEPS)
    result = _only_result(agent.run("draw a cat on a mat"))
    assert result.choice.model_id == "tiny/sd"
    [art] = result.outputs
    assert art.kind == "image"
    # The tiny UNet's sample size 32 × VAE scale factor 2: the pipeline's native 64 px.
    assert _png_size(art.path) == (64, 64) == (result.data["width"], result.data["height"])
    assert result.data["steps"] == STEPS


@pytest.mark.slow
def test_image_to_image_from_a_text_to_image_checkpoint(diffusers_tiny, media, make_agent) -> None:
    """The SD checkpoint is turned into its img2img variant; the 96×64 photo keeps its 3:2 aspect at 64 px."""
    plan = [{"task": "image-to-image", "id": 0, "dep": [-1], "args": {"image": "photo.png", "text": "a sunny day"}}]
    agent = make_agent(plan, cards=[{"id": "tiny/sd-img2img", "task": "image-to-image",
                                     "path": str(diffusers_tiny("image-to-image"))}], diffusion_steps=STEPS)
    result = _only_result(agent.run("make photo.png sunnier"))
    [art] = result.outputs
    assert art.kind == "image"
    assert _png_size(art.path) == (64, 48)
    assert result.data["steps"] == STEPS


@pytest.mark.slow
def test_canny_control_feeds_a_controlnet(diffusers_tiny, media, make_agent) -> None:
    """JARVIS's two-step plan: the embedded canny-control expert's edge map, through <GENERATED>-0, conditions a
    ControlNet over the Stable Diffusion base named by controlnet_base (a local directory here)."""
    pytest.importorskip("cv2")
    plan = [{"task": "canny-control", "id": 0, "dep": [-1], "args": {"image": "photo.png"}},
            {"task": "canny-text-to-image", "id": 1, "dep": [0],
             "args": {"image": "<GENERATED>-0", "text": "a golden ball in the sky"}}]
    cards = [{"id": "tiny/controlnet-canny", "task": "canny-text-to-image",
              "path": str(diffusers_tiny("canny-text-to-image"))}]
    agent = make_agent(plan, cards=cards, controlnet_base=str(diffusers_tiny("text-to-image")),
                       diffusion_steps=STEPS)
    run = agent.run("draw a golden ball in the sky shaped like the edges of photo.png")
    assert run.error is None, run.error
    assert [r.status for r in run.results] == ["ok", "ok"], [r.error for r in run.results]
    edges, generated = run.results
    assert edges.choice.backend == "embedded"
    assert generated.choice.model_id == "tiny/controlnet-canny" and generated.choice.backend == "transformers"
    assert Path(generated.inputs["image"]) == edges.outputs[0].path  # the edge map, not the photo
    assert _png_size(edges.outputs[0].path) == (96, 64)
    [art] = generated.outputs
    assert art.kind == "image"
    assert _png_size(art.path) == (64, 48)  # the control map's aspect at the base model's native size
    assert generated.data["steps"] == STEPS


@pytest.mark.slow
def test_text_to_video_in_a_plan(diffusers_tiny, make_agent) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    card = {"id": "tiny/t2v", "task": "text-to-video", "path": str(diffusers_tiny("text-to-video"))}
    agent = make_agent([{"task": "text-to-video", "id": 0, "dep": [-1], "args": {"text": "a dog runs"}}],
                       cards=[card], diffusion_steps=STEPS)
    result = _only_result(agent.run("make a video of a dog running"))
    [art] = result.outputs
    assert art.kind == "video" and art.path.suffix == ".mp4"
    reader = imageio_ffmpeg.read_frames(str(art.path))
    meta = next(reader)  # decoding it back proves a playable H.264 file, not just bytes with an .mp4 name
    frames = list(reader)
    assert tuple(meta["size"]) == (32, 32)
    assert len(frames) == result.data["frames"] == 16


@pytest.mark.slow
def test_controlnet_without_its_base_fails_with_a_named_error(diffusers_tiny, media, tmp_path: Path,
                                                               make_agent) -> None:
    plan = [{"task": "canny-text-to-image", "id": 0, "dep": [-1], "args": {"image": "photo.png", "text": "a ball"}}]
    cards = [{"id": "tiny/controlnet-canny", "task": "canny-text-to-image",
              "path": str(diffusers_tiny("canny-text-to-image"))}]
    agent = make_agent(plan, cards=cards, controlnet_base="nobody/not-cached-sd", hf_cache_dir=tmp_path / "empty")
    run = agent.run("draw a ball like photo.png")
    [result] = run.results
    assert result.status == "failed"
    assert result.error is not None and result.error.type == "ExpertUnavailable"
    assert "nobody/not-cached-sd" in result.error.message and "controlnet_base" in (result.error.hint or "")
    assert run.answer


@pytest.mark.slow
def test_controlnet_for_another_base_is_refused_at_load(diffusers_tiny, tmp_path: Path, media) -> None:
    """A ControlNet whose text width differs from the base's (e.g. SD 2 over SD 1.5) is named at load, not left to
    fail with a shape error in the middle of denoising."""
    from diffusers import ControlNetModel

    from hugginggpt.errors import ExpertUnavailable

    other = tmp_path / "controlnet-width-16"
    ControlNetModel(block_out_channels=(4, 8), layers_per_block=1, in_channels=4, cross_attention_dim=16,
                    norm_num_groups=2, conditioning_embedding_out_channels=(16, 32),
                    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D")).save_pretrained(other)
    backend = TransformersBackend(ExpertPool(), device="cpu", controlnet_base=str(diffusers_tiny("text-to-image")))
    card = ModelCard(id="tiny/other-controlnet", task="canny-text-to-image", path=str(other), source="user")
    assert backend.can_serve(card)[0]
    with pytest.raises(ExpertUnavailable, match="text features of size 16") as err:
        backend.expert(card).run({"image": media["image"], "text": "a ball"})
    assert err.value.hint is not None and "controlnet_base" in err.value.hint


@pytest.mark.slow
def test_diffusers_directory_is_served_and_bad_inputs_are_named(diffusers_tiny, tmp_path: Path) -> None:
    from hugginggpt.errors import ExpertInputError

    backend = TransformersBackend(ExpertPool(), device="cpu", diffusion_steps=STEPS)
    card = ModelCard(id="tiny/sd-direct", task="image-to-image", path=str(diffusers_tiny("image-to-image")),
                     source="user")
    ok, why = backend.can_serve(card)
    assert ok and "local directory" in why
    with pytest.raises(ExpertInputError, match="not found"):
        backend.expert(card).run({"image": tmp_path / "missing.png"})
    with pytest.raises(ExpertInputError, match="slot 'image'"):
        backend.expert(card).run({"text": "no image given"})
    t2i = ModelCard(id="tiny/sd-t2i", task="text-to-image", path=str(diffusers_tiny("text-to-image")), source="user")
    with pytest.raises(ExpertInputError, match="text"):
        backend.expert(t2i).run({"text": "  "})
