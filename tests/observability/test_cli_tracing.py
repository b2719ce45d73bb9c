"""``hugginggpt run`` with the console exporter from OTEL_TRACES_EXPORTER: the spans go to stderr, so the JSON on
stdout stays parseable, and they describe the run that was printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A CLI process (imports, the sentiment expert): seconds.
pytestmark = pytest.mark.slow


def test_run_json_with_console_spans(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HUGGINGGPT_TRACING"))}
    env.update(OTEL_TRACES_EXPORTER="console", HUGGINGGPT_WORKSPACE=str(tmp_path / "ws"), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "hugginggpt.cli", "run", "--json",
                           "What is the sentiment of: I love this movie, the acting was wonderful"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "succeeded"
    spans = _console_spans(proc.stderr)
    (run,) = [s for s in spans if s["name"] == "hugginggpt.run"]
    assert run["attributes"]["hugginggpt.run_id"] == result["run_id"]  # the id the run history shows
    trace = [s for s in spans if s["context"]["trace_id"] == run["context"]["trace_id"]]
    assert {"hugginggpt.stage.plan", "hugginggpt.stage.execute", "hugginggpt.expert"} <= {s["name"] for s in trace}
    (expert,) = [s for s in trace if s["name"] == "hugginggpt.expert"]
    assert expert["attributes"]["hugginggpt.model_id"] == result["results"][0]["choice"]["model_id"]
    assert run["resource"]["attributes"]["service.name"] == "hugginggpt"


def _console_spans(text: str) -> list[dict]:
    """The JSON objects the console exporter wrote (one indented object per span) out of stderr."""
    spans, depth, buf = [], 0, []
    for line in text.splitlines():
        if depth == 0 and line != "{":
            continue
        buf.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            spans.append(json.loads("\n".join(buf)))
            buf = []
    return spans
