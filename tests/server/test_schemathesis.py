"""schemathesis against the server's own /openapi.json: every phase (examples, coverage, fuzzing, stateful), every
check, a bounded number of examples per operation. 0 failures: no server error, every response conforms to the
schema (status codes, content types, headers, bodies, SSE events), schema-valid requests are accepted and
schema-invalid ones refused, 405s carry the right ``Allow``.

The app is the real one over the real agent (offline planner, embedded experts); only the chit-chat answer comes from
a canned LLM, because fuzzed text is mostly chit-chat and the embedded LLM would take seconds per answer.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hugginggpt.agent import HuggingGPT
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.llm.base import ChatResult
from hugginggpt.server.app import create_app

from .conftest import LiveServer

# A live server and a few hundred requests (about 20-40 s); the schemathesis run's own limit is 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]

MAX_EXAMPLES = 8
# 415 is the answer to a file whose bytes are not an image, audio or video: the schema can only say "bytes"
# (multipart upload, base64 input_audio), so schema-valid data can get it. Every other 4xx is a failure.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "415", "429", "5xx"]
"""


class CannedLLM:
    """Answers chit-chat with one fixed line (not capable: it never plans)."""

    name = "canned"
    capable = False

    def chat(self, messages: list[dict[str, str]], **_: Any) -> ChatResult:
        return ChatResult(text="Hello.", prompt_tokens=1, completion_tokens=1, finish_reason="stop")

    def describe(self) -> dict[str, Any]:
        return {"backend": "canned", "model": "none", "capable": False}


def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    config = HuggingGPTConfig(workspace=tmp_path / "ws", planner="offline", server={"ui": False})
    artifacts = config.workspace_path / "artifacts"
    artifacts.mkdir(parents=True)
    agent = HuggingGPT(config.with_overrides(allowed_dirs=[artifacts]), base_dir=artifacts, llm=CannedLLM())
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    cli = Path(sys.executable).with_name("schemathesis")
    with LiveServer(create_app(config, agent=agent)) as srv:
        proc = subprocess.run(
            [str(cli), "--config-file", str(tmp_path / "schemathesis.toml"), "run", f"{srv.url}/openapi.json",
             "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--max-examples",
             str(MAX_EXAMPLES), "--seed", "1", "--request-timeout", "60", "--generation-database", "none"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    summary = re.search(r"(\d+) generated, (.*)", out)
    print(summary.group(0) if summary else out[-2000:])  # the figures, in the test log
    assert proc.returncode == 0, out[-6000:]
    assert summary is not None and int(summary.group(1)) > 100 and "failure" not in summary.group(2)
