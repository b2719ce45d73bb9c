"""Diffusion tasks (text-to-image, image-to-image, text-to-video, JARVIS's ControlNet ``*-text-to-image`` tasks).

They need ``diffusers``, an optional extra (``pip install 'hugginggpt[hub]'``): without it the transformers backend
says so in ``can_serve`` and these loaders are never called. Tested end to end (tests/hub/test_diffusion.py) on tiny
random-weight Stable Diffusion, ControlNet and text-to-video pipelines built offline (tests/hub/tiny_models.py).

Sizes: generated images use the model's native resolution (UNet ``sample_size`` × VAE scale factor: 512 px for SD
1.5); input and control images are scaled so their longer side is that resolution, keeping their aspect ratio, so a
4000 px photo does not exhaust memory and a small one is not generated below the size the model was trained at.
Steps: ``diffusion_steps`` from the config when set, else the defaults below (JARVIS uses 20 for ControlNet).
"""

from __future__ import annotations

import inspect
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ExpertInputError, ExpertUnavailable
from ...tasks import default_registry
from ..base import ExpertOutput, ExpertResult, require_text
from .registry import LoadOptions, hub_task
from .render import png

log = logging.getLogger(__name__)

STEPS = 25  # text-to-image, image-to-image, text-to-video
CONTROL_STEPS = 20
STRENGTH = 0.8  # image-to-image: how much of the input is re-noised (diffusers' default)
NUM_FRAMES = 16
DEFAULT_RESOLUTION = 512  # pipelines that say nothing about their native size (SD 1.x is 512)


@dataclass
class Diffuser:
    """A loaded pipeline and how to call it."""

    pipe: Any
    steps: int
    device: str


def _dtype_kwargs(opts: LoadOptions) -> dict[str, Any]:
    # Half precision only on GPUs: CPU kernels for float16 convolutions are missing or very slow.
    return {"torch_dtype": opts.dtype} if opts.dtype is not None and opts.device != "cpu" else {}


def _steps(opts: LoadOptions, default: int) -> int:
    value = (opts.extra or {}).get("diffusion_steps")
    return int(value) if value else default


def _ready(pipe: Any, opts: LoadOptions, default_steps: int) -> Diffuser:
    """Move to the device, silence the per-step progress bars (they would write to the user's terminal) and read
    every CPU weight once, so the pool measures the model's memory during load rather than at the first call."""
    import torch

    pipe = pipe.to(opts.device)
    pipe.set_progress_bar_config(disable=True)
    with torch.no_grad():
        for part in getattr(pipe, "components", {}).values():
            if isinstance(part, torch.nn.Module):
                for tensor in part.state_dict().values():
                    if tensor.device.type == "cpu" and tensor.is_floating_point() and tensor.numel():
                        tensor.sum()
    return Diffuser(pipe, _steps(opts, default_steps), opts.device)


def native_resolution(pipe: Any) -> int:
    """The pixel size a pipeline's denoiser was trained at (its default output size)."""
    factor = int(getattr(pipe, "vae_scale_factor", 8) or 8)
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    sample = getattr(getattr(denoiser, "config", None), "sample_size", None)
    if isinstance(sample, list | tuple):
        sample = max(sample)
    if not sample:
        sample = getattr(pipe, "default_sample_size", None)
    return int(sample) * factor if sample else DEFAULT_RESOLUTION


def fit_size(size: tuple[int, int], native: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the longer side ``native`` and the aspect ratio of ``size``, both multiples of
    ``multiple`` (the UNet halves the latent several times; odd sizes would not come back to the same shape)."""
    scale = native / max(size)
    w, h = (max(multiple, round(d * scale / multiple) * multiple) for d in size)
    return w, h


def _multiple(pipe: Any) -> int:
    return 8 * int(getattr(pipe, "vae_scale_factor", 8) or 8)


def _sized(pipe: Any, image: Any) -> Any:
    from PIL import Image

    w, h = fit_size(image.size, native_resolution(pipe), _multiple(pipe))
    return image if image.size == (w, h) else image.resize((w, h), Image.Resampling.LANCZOS)


def _pil(image: Any) -> Any:
    """A generated image as PIL (pipelines return PIL by default, float or uint8 arrays with ``output_type="np"``)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    import numpy as np

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    return Image.fromarray(arr)


def _image_result(out: Any, facts: dict[str, Any]) -> ExpertResult:
    image = _pil(out.images[0])
    flagged = getattr(out, "nsfw_content_detected", None)
    if flagged and flagged[0]:  # the safety checker blacked the image out: say so rather than show a black square
        facts["nsfw_content_detected"] = True
    width, height = image.size
    return ExpertResult([ExpertOutput("image", data=png(image), ext=".png")],
                        {**facts, "width": width, "height": height})


def _load_text_to_image(path: Path, opts: LoadOptions) -> Diffuser:
    from diffusers import DiffusionPipeline

    return _ready(DiffusionPipeline.from_pretrained(str(path), **_dtype_kwargs(opts)), opts, STEPS)


@hub_task("text-to-image", _load_text_to_image, library="diffusers")
def _text_to_image(state: Diffuser, inputs: dict[str, Any]) -> ExpertResult:
    out = state.pipe(prompt=require_text(inputs), num_inference_steps=state.steps)
    return _image_result(out, {"steps": state.steps})


def _input_image(inputs: dict[str, Any]) -> Any:
    from ...codec.image import load_image

    if not inputs.get("image"):
        raise ExpertInputError("This task needs an image in slot 'image', got none.",
                               hint="Give an image file or feed one from an earlier task.")
    return load_image(inputs["image"])


def _takes(pipe: Any, name: str) -> bool:
    return name in inspect.signature(pipe.__call__).parameters


def _load_image_to_image(path: Path, opts: LoadOptions) -> Diffuser:
    """Pipelines that take an image (img2img, instruct-pix2pix, image variations) are used as they are; a
    text-to-image checkpoint (e.g. SD 1.5) is turned into its image-to-image variant sharing the same weights."""
    from diffusers import AutoPipelineForImage2Image, DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(str(path), **_dtype_kwargs(opts))
    if not _takes(pipe, "image"):
        try:
            pipe = AutoPipelineForImage2Image.from_pipe(pipe)
        except ValueError as exc:
            raise ExpertUnavailable(f"{type(pipe).__name__} at {path} has no image-to-image variant: {exc}",
                                    hint="Pick an image-to-image model (e.g. a Stable Diffusion checkpoint).") from exc
    return _ready(pipe, opts, STEPS)


@hub_task("image-to-image", _load_image_to_image, library="diffusers")
def _image_to_image(state: Diffuser, inputs: dict[str, Any]) -> ExpertResult:
    pipe = state.pipe
    image = _sized(pipe, _input_image(inputs))
    kwargs: dict[str, Any] = {"image": image, "num_inference_steps": state.steps}
    if _takes(pipe, "prompt"):  # image-variation pipelines take no text
        kwargs["prompt"] = inputs.get("text") or "a high quality version of this image"
    if _takes(pipe, "strength"):
        kwargs["strength"] = STRENGTH
        # img2img runs only steps × strength of the schedule; fewer than one step is an error in diffusers.
        kwargs["num_inference_steps"] = max(state.steps, math.ceil(1 / STRENGTH))
    return _image_result(pipe(**kwargs), {"steps": kwargs["num_inference_steps"]})


def _load_text_to_video(path: Path, opts: LoadOptions) -> Diffuser:
    from diffusers import DiffusionPipeline

    return _ready(DiffusionPipeline.from_pretrained(str(path), **_dtype_kwargs(opts)), opts, STEPS)


@hub_task("text-to-video", _load_text_to_video, library="diffusers")
def _text_to_video(state: Diffuser, inputs: dict[str, Any]) -> ExpertResult:
    from diffusers.utils import export_to_video

    frames = state.pipe(require_text(inputs), num_inference_steps=state.steps, num_frames=NUM_FRAMES).frames
    if len(frames) == 1:  # recent diffusers: a batch of videos, one per prompt
        frames = frames[0]
    frames = list(frames)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(export_to_video(frames, str(Path(tmp) / "video.mp4"), fps=8))
        data = out.read_bytes()
    return ExpertResult([ExpertOutput("video", data=data, ext=".mp4")],
                        {"frames": len(frames), "fps": 8, "steps": state.steps})


def _controlnet_base(opts: LoadOptions) -> Path:
    from .local import locate

    base_id = str((opts.extra or {}).get("controlnet_base") or "runwayml/stable-diffusion-v1-5")
    as_dir = Path(base_id).expanduser()
    base, why = locate(base_id, str(as_dir) if as_dir.is_dir() else None)
    if base is None:
        raise ExpertUnavailable(f"ControlNet needs its base Stable Diffusion model {base_id}: {why}.",
                                hint=f"hugginggpt models pull {base_id}, or set controlnet_base to a local directory.")
    return base


def _load_controlnet(path: Path, opts: LoadOptions) -> Diffuser:
    """The card is the ControlNet (e.g. lllyasviel/sd-controlnet-canny); the base Stable Diffusion model comes from
    ``controlnet_base`` (default runwayml/stable-diffusion-v1-5, as JARVIS): a model id read from the local cache
    only, or a local directory."""
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, UniPCMultistepScheduler

    base = _controlnet_base(opts)
    control = ControlNetModel.from_pretrained(str(path), **_dtype_kwargs(opts))
    pipe = StableDiffusionControlNetPipeline.from_pretrained(str(base), controlnet=control, **_dtype_kwargs(opts))
    want, have = control.config.cross_attention_dim, pipe.unet.config.cross_attention_dim
    if want != have:  # e.g. an SDXL or SD 2 ControlNet over an SD 1.5 base: fails later with a shape error
        raise ExpertUnavailable(f"The ControlNet at {path} expects a base model with text features of size {want}, "
                                f"but the base at {base} has {have}.",
                                hint="Set controlnet_base to the Stable Diffusion version this ControlNet was "
                                     "trained on.")
    pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config)
    return _ready(pipe, opts, CONTROL_STEPS)


def _controlnet(state: Diffuser, inputs: dict[str, Any]) -> ExpertResult:
    """Generates at the control map's aspect ratio (JARVIS's square default would stretch it)."""
    pipe = state.pipe
    control = _sized(pipe, _input_image(inputs))
    width, height = control.size
    out = pipe(require_text(inputs), image=control, num_inference_steps=state.steps, width=width, height=height)
    return _image_result(out, {"steps": state.steps})


# The ControlNet generators: every task of tasks.yaml that has a condition map (``controlled_by``), plus diffusers'
# scribble ControlNet, which JARVIS lists but our planner has no task for (a user catalog entry can still host it).
for _generator in default_registry().controlled().values():
    hub_task(_generator, _load_controlnet, library="diffusers")(_controlnet)
hub_task("scribble-text-to-image", _load_controlnet, library="diffusers", catalog_only=True)(_controlnet)
