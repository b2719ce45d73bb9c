"""Named errors of the remote backends (hosted inference and model servers), one per failure a user can act on."""

from __future__ import annotations

from ...errors import ExpertError, ExpertUnavailable


class HubAuthError(ExpertUnavailable):
    """401/403: the token is missing, wrong, or lacks access to the model."""

    code = "hub_auth"


class HubModelNotFound(ExpertUnavailable):
    """404: no such model, or the service does not serve it."""

    code = "hub_model_not_found"


class HubRateLimited(ExpertError):
    """429: too many requests or the quota is used up."""

    code = "hub_rate_limited"


class HubModelLoading(ExpertUnavailable):
    """503: the model is not loaded on the service (cold start) or the service is overloaded."""

    code = "hub_model_loading"


class RemoteTimeout(ExpertError):
    """The remote service did not answer in time."""

    code = "remote_timeout"


class RemoteError(ExpertError):
    """The remote service answered with an error or with something that is not a usable result."""

    code = "remote_error"


class ModelServerUnreachable(ExpertUnavailable):
    """The model server cannot be reached (down, wrong URL, connection dropped mid-request)."""

    code = "model_server_unreachable"


def error_for_status(status: int, what: str, detail: str = "") -> ExpertError:
    """The named error for an HTTP status from ``what`` (e.g. "hf-inference for gpt2")."""
    tail = f": {detail[:300]}" if detail else ""
    if status in (401, 403):
        return HubAuthError(f"{what} refused the request ({status}){tail}.",
                            hint="Set a valid token (env HF_TOKEN or config hf_token) with access to this model.")
    if status == 404:
        return HubModelNotFound(f"{what} does not serve this model (404){tail}.",
                                hint="Check the model id, or pick a model that the service deploys.")
    if status == 429:
        return HubRateLimited(f"{what} is rate limiting (429){tail}.",
                              hint="Wait and retry, use a token with more quota, or run the model locally.")
    if status in (502, 503, 504):
        return HubModelLoading(f"{what} is not ready ({status}){tail}.",
                               hint="The model may be loading (cold start) or the service overloaded; retry later.")
    return RemoteError(f"{what} failed with HTTP {status}{tail}.")


# What would serve a task that has no offline model here: the backend, a model, and the configuration line to set.
# ControlNet maps (annotators) are not hub models: JARVIS's model server runs them (controlnet_aux) under one id.
_JARVIS_ANNOTATORS = "lllyasviel/ControlNet"
_SERVER = "model_servers: [{url: http://<host>:8005}] (a hugginggpt models-server or JARVIS's models_server.py)"
_HUB = "pip install 'hugginggpt[hub]', then `hugginggpt models pull {model}` (the local Hugging Face cache)"
_HOSTED = "inference_mode: huggingface with HF_TOKEN set (hf-inference)"


def ways_to_serve(task: str, hub_models: list[str], *, local: bool = True, hosted: bool = True,
                  llm_task: bool = False) -> list[str]:
    """How ``task`` could run when nothing here serves it, one way per backend, each naming a model and the setting
    to change. ``hub_models``: catalog ids for the task, best first; ``local``: whether the transformers/diffusers
    code covers the task; ``hosted``: whether hf-inference has a call for it."""
    ways: list[str] = []
    if task.endswith("-control"):
        ways.append(f"JARVIS's models_server.py, which runs the ControlNet annotators (controlnet_aux) as "
                    f"{_JARVIS_ANNOTATORS}: model_servers: [{{url: http://<host>:8005}}] and "
                    f"`{{id: {_JARVIS_ANNOTATORS}, task: {task}}}` in your catalog_file")
        return ways
    if task.endswith("-text-to-image"):  # the ControlNet generators: the card is the ControlNet, the base is SD
        net = f"lllyasviel/sd-controlnet-{task.removesuffix('-text-to-image')}"
        ways.append(f"the transformers backend (diffusers) with the ControlNet {net}: {_HUB.format(model=net)}, "
                    f"add `{{id: {net}, task: {task}}}` to your catalog_file, and have controlnet_base (default "
                    "runwayml/stable-diffusion-v1-5) in the cache")
        ways.append(f"a model server hosting {net}, set with {_SERVER}")
        return ways
    model = hub_models[0] if hub_models else None
    shown = ", ".join(hub_models[:3])
    if model and local:
        ways.append(f"the transformers backend with a hub model such as {shown}: {_HUB.format(model=model)}")
    if model and hosted:
        ways.append(f"hf-inference with {model}: {_HOSTED}")
    if model:
        ways.append(f"a model server hosting {model}, set with {_SERVER}")
    if llm_task:
        ways.append("a capable LLM that does this text task itself: llm.backend: openai with llm.base_url and "
                    "llm.capable: true")
    return ways
