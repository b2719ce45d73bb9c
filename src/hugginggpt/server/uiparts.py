"""Pieces of the web UI that are not Gradio wiring: the progress board (events -> HTML), styles, the per-session
agent for a user-chosen LLM endpoint and the rule that decides which endpoints a session may choose."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import ConfigError, ResourceAccessDenied
from .graph import plan_svg

if TYPE_CHECKING:  # kept light: the agent is imported when a session needs its own
    from ..agent import HuggingGPT
    from .deps import ServerState

STAGES = ("plan", "select", "execute", "respond")
_LABEL = {"plan": "Plan", "select": "Models", "execute": "Run", "respond": "Answer"}
_ICON = {"pending": "○", "running": "◔", "done": "✓", "ok": "✓", "failed": "✗", "skipped": "↷", "partial": "◐",
         "succeeded": "✓", "interrupted": "✗"}
# What the run's final status says to a user (RunResult.status, or the server's failed/interrupted).
OUTCOME = {"succeeded": "succeeded", "partial": "partly done", "failed": "failed", "interrupted": "interrupted"}

EXAMPLES = [
    ["what is the sentiment of: I love this movie, the acting was wonderful"],
    ["find the named entities in: Ada Lovelace worked with Charles Babbage in London"],
    ["read this aloud: 'HuggingGPT plans tasks and runs expert models'"],
]

HEADER = """<div class="hg-header"><div class="hg-title"><span class="hg-logo"><svg viewBox="0 0 24 24" width="26"
height="26" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="#fbbf24"/><circle cx="8.5" cy="10" r="1.6"
fill="#1f2937"/><circle cx="15.5" cy="10" r="1.6" fill="#1f2937"/><path d="M7.5 14.5q4.5 4 9 0" stroke="#1f2937"
stroke-width="1.6" fill="none" stroke-linecap="round"/></svg></span> HuggingGPT
<span class="hg-sub">plans tasks · picks expert models · runs them · answers from real outputs</span></div>
<div class="hg-chips"><span class="hg-chip">LLM: {llm}</span><a class="hg-chip" href="/docs" target="_blank">API</a>
</div></div>"""

CSS = """
.gradio-container {max-width: 1480px !important; margin: 0 auto !important; padding-top: 4px !important;}
.gradio-container > .main > .wrap > .contain {padding-top: 0 !important;}
#hg-header {margin: 0 !important;}
.hg-header {display:flex; align-items:center; justify-content:space-between; gap:12px; padding:6px 4px 2px;}
.hg-title {font-size:1.35rem; font-weight:700; letter-spacing:-0.01em;}
.hg-title {display:flex; align-items:center; gap:8px;}
.hg-logo {display:inline-flex;}
.hg-sub {font-size:.85rem; font-weight:400; color:var(--body-text-color-subdued); margin-left:10px;}
.hg-chips {display:flex; gap:6px; flex-wrap:wrap;}
.hg-chip {font-size:.78rem; padding:3px 10px; border-radius:999px; background:var(--background-fill-secondary);
  border:1px solid var(--border-color-primary); color:var(--body-text-color); text-decoration:none;}
.hg-card {border:1px solid var(--border-color-primary); border-radius:12px; padding:10px 12px;
  background:var(--background-fill-primary); box-shadow:0 1px 2px #0000000d;}
.hg-card h4 {margin:0 0 8px; font-size:.8rem; text-transform:uppercase; letter-spacing:.06em;
  color:var(--body-text-color-subdued);}
.hg-steps {display:flex; gap:6px;}
.hg-step {flex:1; text-align:center; padding:6px 4px; border-radius:9px; font-size:.82rem; font-weight:600;
  background:#f1f5f9; color:#64748b; border:1px solid #e2e8f0;}
.hg-step.running {background:#fef3c7; color:#92400e; border-color:#f59e0b;}
.hg-step.done {background:#dcfce7; color:#166534; border-color:#22c55e;}
.hg-step.failed {background:#fee2e2; color:#991b1b; border-color:#ef4444;}
.hg-step.partial {background:#ffedd5; color:#9a3412; border-color:#f97316;}
.hg-outcome {display:inline-block; font-weight:600; padding:1px 8px; border-radius:999px; margin:0 2px;}
.hg-outcome.succeeded {background:#dcfce7; color:#166534;}
.hg-outcome.partial {background:#ffedd5; color:#9a3412;}
.hg-outcome.failed, .hg-outcome.interrupted {background:#fee2e2; color:#991b1b;}
.hg-tasks {margin:8px 0 0; padding:0; list-style:none; font-size:.82rem;}
.hg-tasks li {display:flex; justify-content:space-between; gap:8px; padding:3px 2px;
  border-bottom:1px dashed var(--border-color-primary);}
.hg-tasks li:last-child {border-bottom:0;}
.hg-st-ok {color:#15803d;} .hg-st-failed {color:#b91c1c;} .hg-st-running {color:#b45309;}
.hg-st-skipped, .hg-st-pending {color:#64748b;}
.hg-msg {font-size:.8rem; color:#b91c1c; margin-top:6px;}
.hg-empty {font-size:.82rem; color:var(--body-text-color-subdued); padding:6px 0;}
.hg-plan-wrap {overflow-x:auto;} .hg-plan-wrap svg {max-width:100%; height:auto;}
.hg-model {padding:5px 0; border-top:1px solid var(--border-color-primary); font-size:.8rem;}
.hg-model:first-of-type {border-top:0; padding-top:0;}
.hg-model-head {display:flex; justify-content:space-between; gap:10px; font-weight:600;}
.hg-model-head code {font-size:.76rem; font-weight:500; word-break:break-all; text-align:right;}
.hg-why {color:var(--body-text-color-subdued);}
#hg-side {gap:10px;}
#hg-chat .placeholder-content {padding:0 24px;}
#hg-chat .examples {gap:10px;}
#hg-chat button.example {border:1px solid var(--border-color-primary) !important; border-radius:12px !important;
  background:var(--background-fill-secondary) !important; padding:10px 14px !important; text-align:left;
  transition:border-color .15s, box-shadow .15s;}
#hg-chat button.example:hover {border-color:var(--color-accent) !important; box-shadow:0 2px 8px #4f46e51f;}
#hg-chat {flex-grow:1;}
footer {display:none !important;}
/* Gradio's chatbot puts a "Share" button (Hugging Face Spaces only; elsewhere it just says "Must be on Spaces to
   share") under every media message, whatever the components ask for: hide it by its label and by its icon. */
#hg-chat button[aria-label="Share"], #hg-chat button[title="Share"],
#hg-chat button:has(svg path[d^="M23,20a5,5"]) {display:none !important;}
"""


class ProgressBoard:
    """Folds a run's events into what the side panel shows."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.stages: dict[str, str] = {s: "pending" for s in STAGES}
        self.tasks: list[dict[str, Any]] = []
        self.task_status: dict[int, str] = {}
        self.task_info: dict[int, str] = {}
        self.choices: dict[int, dict[str, Any]] = {}
        self.message = ""
        self.started = time.time()
        self.final: str | None = None
        self.left_out: list[str] = []  # plan notes about tasks the planner left out
        self.steps: dict[str, str] = {}  # long steps in progress (loading a model, speech i/n), by key

    def update(self, ev: dict[str, Any]) -> None:
        kind, status, data = ev.get("kind"), ev.get("status", ""), ev.get("data") or {}
        if kind == "stage" and ev.get("stage") in self.stages:
            self.stages[ev["stage"]] = status
            if ev["stage"] == "plan" and status == "done":
                self.tasks = list(data.get("plan") or [])
                self.left_out = [str(n) for n in data.get("left_out") or []]
                self.task_status = {t["id"]: "pending" for t in self.tasks}
                if not self.tasks:  # chit-chat: nothing to select or execute
                    self.stages["select"] = self.stages["execute"] = "done"
            if ev["stage"] == "select" and status == "done":
                self.choices = {int(k): v for k, v in (data.get("choices") or {}).items()}
        elif kind == "task" and ev.get("task_id") is not None:
            self.task_status[ev["task_id"]] = status
            secs = data.get("seconds")
            info = ev.get("message") or (f"{secs:.2f} s" if secs is not None else "")
            self.task_info[ev["task_id"]] = info + (" · cached" if data.get("cache") == "hit" else "")
        elif kind == "progress":
            self._step(ev, status, data)
        elif kind == "error":
            self.message = ev.get("message", "")
            for s in STAGES:
                if self.stages[s] == "running":
                    self.stages[s] = "failed"
        elif kind == "answer":
            self.final = status
            if status == "interrupted":
                self.message = "The run was interrupted."

    def _step(self, ev: dict[str, Any], status: str, data: dict[str, Any]) -> None:
        """A slow model load, speech chunk i/n: shown while it lasts."""
        key = str(data.get("key") or ev.get("message", ""))
        if status == "running":
            done, total = data.get("done"), data.get("total")
            self.steps[key] = ev.get("message", "") + (f" ({done}/{total})" if total else "")
        else:
            self.steps.pop(key, None)

    def finish(self, run_status: str, result: dict[str, Any] | None) -> None:
        """Settle the final status from the stored run: the server's ``failed``/``interrupted`` win, otherwise the
        run result's own ``succeeded | partial | failed`` (a run can finish while every task failed)."""
        honest = (result or {}).get("status")
        self.final = run_status if run_status in ("failed", "interrupted") or not honest else str(honest)
        for r in (result or {}).get("results") or []:
            tid = (r.get("task") or {}).get("id")
            if tid is not None and r.get("status") in ("ok", "failed", "skipped"):
                self.task_status[tid] = r["status"]
                if r.get("status") != "ok" and r.get("error"):
                    self.task_info[tid] = r["error"].get("message", "")

    def failed_tasks(self) -> tuple[int, int, int]:
        """(tasks failed, tasks skipped because an input failed, tasks planned)."""
        states = [self.task_status.get(t["id"]) for t in self.tasks]
        return states.count("failed"), states.count("skipped"), len(self.tasks)

    def _stage_status(self, stage: str) -> str:
        st = self.stages[stage]
        if stage == "execute" and st == "done" and self.tasks:
            failed, skipped, total = self.failed_tasks()
            if failed + skipped:  # the stage ended, but not every task did its job: no green tick
                return "failed" if failed + skipped == total else "partial"
        return st

    # ----- views ------------------------------------------------------------------------------------------------
    def progress_html(self) -> str:
        steps = "".join(f'<div class="hg-step {st}">{_ICON.get(st, "○")} {_LABEL[s]}</div>'
                        for s, st in ((s, self._stage_status(s)) for s in self.stages))
        rows = "".join(
            f'<li><span>#{t["id"]} {escape(t["task"])}</span><span class="hg-st-{self.task_status.get(t["id"], "")}">'
            f'{_ICON.get(self.task_status.get(t["id"], "pending"), "")} '
            f'{escape(_clip(self.task_info.get(t["id"], self.task_status.get(t["id"], "")), 60))}</span></li>'
            for t in self.tasks)
        tail = "".join(f'<div class="hg-msg">⏳ {escape(_clip(m, 80))}</div>' for m in self.steps.values())
        tail += f'<div class="hg-msg">{escape(self.message)}</div>' if self.message else ""
        if self.run_id and self.final:
            took = time.time() - self.started
            tail += (f'<div class="hg-empty">run <a href="/v1/runs/{self.run_id}" target="_blank">{self.run_id}</a>'
                     f' · {self.outcome_html()} · {took:.1f} s</div>')
        return (f'<div class="hg-card"><h4>Progress</h4><div class="hg-steps">{steps}</div>'
                f'{"<ul class=hg-tasks>" + rows + "</ul>" if rows else ""}{tail}</div>')

    def outcome_html(self) -> str:
        final = self.final or ""
        label = OUTCOME.get(final, final)
        failed, skipped, total = self.failed_tasks()
        if final in ("partial", "failed") and failed + skipped:
            label += f" ({failed} of {total} task{'s' if total > 1 else ''} failed" + (
                f", {skipped} skipped)" if skipped else ")")
        return f'<span class="hg-outcome {escape(final)}">{_ICON.get(final, "")} {escape(label)}</span>'

    def plan_html(self) -> str:
        if not self.tasks:
            body = ('<div class="hg-empty">The plan appears here: one box per task, arrows where an output feeds '
                    'the next task.</div>' if self.stages["plan"] != "done" else
                    '<div class="hg-empty">No tasks: the LLM answers directly (chit-chat).</div>')
        else:
            models = {tid: c.get("model_id", "") for tid, c in self.choices.items()}
            body = f'<div class="hg-plan-wrap">{plan_svg(self.tasks, self.task_status, models)}</div>'
        if self.left_out:  # what the planner did not put in the plan, and why
            body += ('<div class="hg-empty">Left out of the plan:<ul>'
                     + "".join(f"<li>{escape(n)}</li>" for n in self.left_out) + "</ul></div>")
        return f'<div class="hg-card"><h4>Plan</h4>{body}</div>'

    def models_html(self) -> str:
        if not self.choices:
            return ('<div class="hg-card"><h4>Models</h4><div class="hg-empty">The model chosen for each task, '
                    'and why.</div></div>')
        by_id = {t["id"]: t["task"] for t in self.tasks}
        rows = []
        for tid, c in sorted(self.choices.items()):
            model = c.get("model_id") or "—"
            why = c.get("reason") or c.get("message") or ""
            rows.append(f'<div class="hg-model"><div class="hg-model-head"><span>#{tid} '
                        f'{escape(by_id.get(tid, c.get("task", "")))}</span><code>{escape(model)}</code></div>'
                        f'<div class="hg-why">{escape(_clip(why, 160))}</div></div>')
        return f'<div class="hg-card"><h4>Models</h4>{"".join(rows)}</div>'


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def llm_label(config: Any) -> str:
    llm = config.llm
    if llm.backend == "openai":
        return escape(f"{llm.model or 'default'} @ {llm.base_url}")
    return escape(llm.gguf_path.name if llm.gguf_path else "embedded SmolLM2-135M")


@dataclass(frozen=True)
class LLMPolicy:
    """Whether UI sessions may change their LLM, which endpoints they may choose, and if not, why."""

    enabled: bool
    allowlist: tuple[str, ...] = ()
    reason: str = ""


def normalize_endpoint(url: str) -> str | None:
    """``scheme://host[:port]/path`` (lower-case host, default port dropped, no trailing slash) of an http(s) base
    URL, or None when it is not one: credentials, a query, a fragment, ``.``/``..`` segments or control characters
    are not part of a base URL, and would let a listed entry stand for another address."""
    url = url.strip()
    if not url or any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None
            or parts.password is not None or parts.query or parts.fragment or "\\" in url):
        return None
    path = parts.path.rstrip("/")
    if any(seg in (".", "..") for seg in path.split("/")):
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    netloc = host if port in (None, {"http": 80, "https": 443}[parts.scheme]) else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}{path}"


def llm_policy(settings: Any) -> LLMPolicy:
    """The rule for the UI's LLM settings: off unless ``server.ui_llm_settings`` is on *and* an API key protects
    the server (the settings make the server send requests to the chosen URL), and then only the base URLs in
    ``server.ui_llm_allowlist``. A malformed allowlist entry is a ``ConfigError`` at start-up."""
    allow: list[str] = []
    for entry in settings.ui_llm_allowlist:
        norm = normalize_endpoint(str(entry))
        if norm is None:
            raise ConfigError(f"server.ui_llm_allowlist has an entry that is not an http(s) base URL: {entry!r}.",
                              hint="List base URLs such as http://127.0.0.1:11434/v1 (no user, query or fragment).")
        allow.append(norm)
    if not settings.ui_llm_settings:
        return LLMPolicy(False, reason="Changing the LLM is turned off on this server (server.ui_llm_settings).")
    if not settings.api_key:
        return LLMPolicy(False, reason="Changing the LLM needs an API key on this server (server.api_key): "
                                       "without one, anyone who opens this page could make the server call any "
                                       "address.")
    return LLMPolicy(True, tuple(dict.fromkeys(allow)))


def check_endpoint(policy: LLMPolicy, url: str) -> str:
    """The canonical form of ``url`` if the policy lets a session use it; ``ResourceAccessDenied`` otherwise."""
    if not policy.enabled:
        raise ResourceAccessDenied(policy.reason, hint="Use the server's LLM, or ask the operator.")
    norm = normalize_endpoint(url)
    if norm is None or norm not in policy.allowlist:
        # Code spans: the UI shows this as Markdown, where a bare URL would become a link to click.
        shown = url.strip()[:200].replace("`", "'")
        allowed = ", ".join(f"`{u}`" for u in policy.allowlist) or "none"
        raise ResourceAccessDenied(
            f"The LLM endpoint `{shown}` is not on this server's allowlist (server.ui_llm_allowlist).",
            hint=f"Choose one of the allowed endpoints ({allowed}), or ask the operator to add it.")
    return norm


_AGENTS: OrderedDict[str, HuggingGPT] = OrderedDict()


def session_agent(st: ServerState, llm: dict[str, Any] | None) -> HuggingGPT:
    """The server's agent, or one that uses the LLM endpoint a UI session chose (cached, expert pool shared). The
    endpoint is checked again here, against the current rule, whatever the session state says."""
    if not llm:
        return st.agent
    if llm.get("base_url"):
        llm = {**llm, "base_url": check_endpoint(llm_policy(st.settings), str(llm["base_url"]))}
    from ..agent import HuggingGPT

    key = hashlib.sha256(repr(sorted(llm.items())).encode()).hexdigest()
    if key in _AGENTS:
        _AGENTS.move_to_end(key)
        return _AGENTS[key]
    changes: dict[str, Any] = {"planner": llm.get("planner") or "auto"}
    if llm.get("base_url"):
        changes["llm"] = {"backend": "openai", "base_url": llm["base_url"], "model": llm.get("model"),
                          "api_key": llm.get("api_key")}
    base = st.agent
    agent = HuggingGPT(base.config.with_overrides(**changes), base_dir=base.base_dir,
                       llm=None if llm.get("base_url") else base.llm)
    agent.pool = base.pool  # loaded expert models are shared, not loaded again per session
    _AGENTS[key] = agent
    while len(_AGENTS) > 8:
        _AGENTS.popitem(last=False)
    return agent
