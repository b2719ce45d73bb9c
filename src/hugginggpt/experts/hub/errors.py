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
