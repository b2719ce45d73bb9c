"""Diffusion tasks (text-to-image, image-to-image, text-to-video, JARVIS's ControlNet ``*-text-to-image`` tasks).

They need ``diffusers``, an optional extra (``pip install 'hugginggpt[hub]'``): without it the transformers backend
says so in ``can_serve`` and these loaders are never called. Written against the diffusers pipeline API
(``DiffusionPipeline``, ``AutoPipelineForImage2Image``, ``StableDiffusionControlNetPipeline``); not exercised by the
test suite, which has no diffusers installed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..base import ExpertOutput, ExpertResult, require_text
from .tasks import HubTask, LoadOptions

CONTROL_TASKS = ("canny", "depth", "hed", "mlsd", "normal", "openpose", "seg", "scribble")
STEPS = 25


def _to(pipe: Any, opts: LoadOptions) -> Any:
    return pipe.to(opts.device)


def _dtype_kwargs(opts: LoadOptions) -> dict[str, Any]:
    # Half precision only on GPUs: CPU kernels for float16 convolutions are missing or very slow.
    return {"torch_dtype": opts.dtype} if opts.dtype is not None and opts.device != "cpu" else {}


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _load_text_to_image(path: Path, opts: LoadOptions) -> Any:
    from diffusers import DiffusionPipeline

    return _to(DiffusionPipeline.from_pretrained(str(path), **_dtype_kwargs(opts)), opts)


def _text_to_image(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    image = pipe(prompt=require_text(inputs), num_inference_steps=STEPS).images[0]
    return ExpertResult([ExpertOutput("image", data=_png(image), ext=".png")], {"steps": STEPS})


def _load_image_to_image(path: Path, opts: LoadOptions) -> Any:
    from diffusers import AutoPipelineForImage2Image

    return _to(AutoPipelineForImage2Image.from_pretrained(str(path), **_dtype_kwargs(opts)), opts)


def _image_to_image(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    from ..embedded._image import load_image

    image = load_image(inputs["image"])
    prompt = inputs.get("text") or "a high quality version of this image"
    out = pipe(prompt=prompt, image=image, num_inference_steps=STEPS).images[0]
    return ExpertResult([ExpertOutput("image", data=_png(out), ext=".png")], {"steps": STEPS})


def _load_text_to_video(path: Path, opts: LoadOptions) -> Any:
    return _load_text_to_image(path, opts)


def _text_to_video(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    import tempfile

    from diffusers.utils import export_to_video

    frames = pipe(require_text(inputs), num_inference_steps=STEPS, num_frames=16).frames
    if len(frames) == 1:  # recent diffusers: one list of frames per prompt
        frames = frames[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(export_to_video(frames, str(Path(tmp) / "video.mp4")))
        return ExpertResult([ExpertOutput("video", data=out.read_bytes(), ext=".mp4")], {"frames": len(frames)})


def _load_controlnet(path: Path, opts: LoadOptions) -> Any:
    """The card is the ControlNet (e.g. lllyasviel/sd-controlnet-canny); the base Stable Diffusion model comes from
    ``controlnet_base`` (default runwayml/stable-diffusion-v1-5, as JARVIS), also read from the local cache only."""
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, UniPCMultistepScheduler

    from ...errors import ExpertUnavailable
    from .local import locate

    base_id = (opts.extra or {}).get("controlnet_base", "runwayml/stable-diffusion-v1-5")
    base, why = locate(base_id, None)
    if base is None:
        raise ExpertUnavailable(f"ControlNet needs its base model {base_id}: {why}.",
                                hint=f"hugginggpt models pull {base_id}")
    control = ControlNetModel.from_pretrained(str(path), **_dtype_kwargs(opts))
    pipe = StableDiffusionControlNetPipeline.from_pretrained(str(base), controlnet=control, **_dtype_kwargs(opts))
    pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config)
    return _to(pipe, opts)


def _controlnet(pipe: Any, inputs: dict[str, Any]) -> ExpertResult:
    from ..embedded._image import load_image

    out = pipe(require_text(inputs), image=load_image(inputs["image"]), num_inference_steps=20).images[0]
    return ExpertResult([ExpertOutput("image", data=_png(out), ext=".png")], {"steps": 20})


TASKS = [
    HubTask("text-to-image", _load_text_to_image, _text_to_image, library="diffusers"),
    HubTask("image-to-image", _load_image_to_image, _image_to_image, library="diffusers"),
    HubTask("text-to-video", _load_text_to_video, _text_to_video, library="diffusers"),
    *(HubTask(f"{c}-text-to-image", _load_controlnet, _controlnet, library="diffusers") for c in CONTROL_TASKS),
]
