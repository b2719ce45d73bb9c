"""The public face of stored runs: workspace paths become ``/v1/artifacts/<name>`` URLs, and back.

Answers cite artifacts by their path in the workspace (that is how the next chat turn finds them); clients see
URLs they can fetch instead, and send them back in the history, where they turn into paths again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..results import RunResult
from .schemas import ArtifactOut, ErrorDetail, JarvisResult, JarvisTask, ModelChoiceOut, RunOut, TaskResultOut
from .store import RunRecord

ARTIFACT_PREFIX = "/v1/artifacts/"
NAME_RE = r"[0-9a-f]{64}(?:\.[a-z0-9]{1,5})?"
_URL_RE = re.compile(r"(?:https?://[^\s/'\"()<>]+)?" + re.escape(ARTIFACT_PREFIX) + r"(" + NAME_RE + r")")
# Hints written for the command line ("attach the file with --file") say what to do over HTTP instead.
_CLI_HINTS = [
    (re.compile(r"\b(attach|give)( the file| an existing file| it)? with --file(?: \(or upload it\))?", re.I),
     lambda m: ("Upload" if m.group(1)[0].isupper() else "upload") + (m.group(2) or " the file")
     + " with POST /v1/files"),
    (re.compile(r"\bgiven with --file\b"), lambda m: "you uploaded (POST /v1/files)"),
    (re.compile(r"--file\b"), lambda m: "an upload (POST /v1/files)"),
    (re.compile(r"\binside the working directory\b"), lambda m: "inside the uploads or the allowed directories"),
]


class PublicView:
    """Converts between the agent's workspace paths and the API's artifact URLs."""

    def __init__(self, artifacts_root: Path) -> None:
        self.root = Path(artifacts_root).resolve()
        self._prefix = str(self.root) + "/"

    # ----- text -------------------------------------------------------------------------------------------------
    def text(self, s: str) -> str:
        """Workspace paths -> artifact URLs; command-line advice (``--file``) -> its HTTP equivalent."""
        if not s:
            return s
        s = s.replace(self._prefix, ARTIFACT_PREFIX)
        if "--file" in s or "working directory" in s:
            for pattern, repl in _CLI_HINTS:
                s = pattern.sub(repl, s)
        return s

    def to_paths(self, s: str) -> str:
        """Artifact URLs -> absolute workspace paths (for chat history: answers cite real paths)."""
        return _URL_RE.sub(lambda m: self._prefix + m.group(1), s or "")

    def to_names(self, s: str) -> str:
        """Artifact URLs -> bare names (for a request: the agent resolves names inside the artifact store)."""
        return _URL_RE.sub(lambda m: m.group(1), s or "")

    def deep(self, value: Any) -> Any:
        """``text`` applied to every string in a JSON-like value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        return value

    # ----- models -----------------------------------------------------------------------------------------------
    def artifact(self, a: dict[str, Any]) -> ArtifactOut:
        name = Path(str(a.get("path", ""))).name or a["sha256"]
        return ArtifactOut(sha256=a["sha256"], name=name, url=ARTIFACT_PREFIX + name, kind=a["kind"], mime=a["mime"],
                           size=a["size"], text=a.get("text"), task_id=a.get("task_id"), model_id=a.get("model_id"))

    def task_result(self, r: dict[str, Any]) -> TaskResultOut:
        spec, choice, error = r["task"], r.get("choice"), r.get("error")
        return TaskResultOut(
            id=spec["id"], task=spec["task"], dep=spec["dep"], args=self.deep(spec["args"]), status=r["status"],
            model=ModelChoiceOut(**choice) if choice else None,
            outputs=[self.artifact(a) for a in r.get("outputs", [])], data=self.deep(r.get("data") or {}),
            error=ErrorDetail(**{**error, "message": self.text(error["message"]),
                                 "hint": self.text(error.get("hint") or "") or None}) if error else None,
            inputs=self.deep(r.get("inputs") or {}), seconds=r.get("seconds"), cached=bool(r.get("cached")))

    def run(self, rec: RunRecord) -> RunOut:
        res = rec.result or {}
        results = [self.task_result(r) for r in res.get("results", [])]
        error = rec.error or res.get("error")
        return RunOut(
            id=rec.id, status=rec.status, source=rec.source, request=self.text(rec.request),
            conversation_id=rec.conversation_id, created_at=rec.created_at, started_at=rec.started_at,
            finished_at=rec.finished_at, answer=self.text(res["answer"]) if "answer" in res else None,
            planner=res.get("planner"), plan=[JarvisTask(**self.deep(t)) for t in res.get("plan", [])],
            results=results, artifacts=[a for r in results for a in r.outputs],
            error=ErrorDetail(**{**error, "message": self.text(error["message"]),
                                 "hint": self.text(error.get("hint") or "") or None}) if error else None,
            timings=res.get("timings") or {},
            usage=res.get("usage") or {}, events_url=f"/v1/runs/{rec.id}/events")

    def jarvis_results(self, result: RunResult) -> dict[str, JarvisResult]:
        """Per-task results keyed by task id, as JARVIS's ``/results`` returns them."""
        out: dict[str, JarvisResult] = {}
        for r in result.results:
            tr = self.task_result(r.model_dump(mode="json"))
            inference: dict[str, Any] = dict(tr.data)
            for a in tr.outputs:
                if a.kind == "text":
                    inference.setdefault("generated text", a.text)
                else:
                    inference.setdefault(f"generated {a.kind}", a.url)
            if tr.error:
                inference["error"] = tr.error.message
            choose = {"id": tr.model.model_id, "reason": tr.model.reason} if tr.model else None
            out[str(tr.id)] = JarvisResult.model_validate({
                "task": {"task": tr.task, "id": tr.id, "dep": tr.dep, "args": tr.args},
                "inference result": inference, "choose model result": choose, "status": tr.status})
        return out


def describe_event(ev: dict[str, Any]) -> str | None:
    """One human line for a progress event (OpenAI stream ``reasoning_content``, logs), or None to skip it."""
    kind, status, data = ev.get("kind"), ev.get("status", ""), ev.get("data") or {}
    if kind == "stage":
        stage = ev.get("stage")
        if status == "running":
            return f"… {stage}"
        if stage == "plan":
            tasks = data.get("plan") or []
            return f"✓ plan: {len(tasks)} task(s)" + (": " + " → ".join(t["task"] for t in tasks) if tasks else
                                                      " (chit-chat)")
        if stage == "select":
            picks = [f"{tid}:{c.get('model_id') or c.get('message')}" for tid, c in (data.get("choices") or {}).items()]
            return "✓ models: " + ", ".join(picks) if picks else "✓ select"
        return f"✓ {stage}"
    if kind == "task":
        head = f"task {ev.get('task_id')} {ev.get('task')}"
        if status == "running":
            return f"… {head}"
        if status == "ok":
            return f"✓ {head} ({data.get('seconds') or 0:.2f} s{', cached' if data.get('cache') == 'hit' else ''})"
        return f"✗ {head}: {status} - {ev.get('message', '')}"
    if kind == "error":
        return f"✗ {ev.get('message', '')}"
    return None
