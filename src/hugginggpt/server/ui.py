"""The web UI at ``/ui`` (Gradio, mounted on the server's app): chat with uploads, live progress, the plan as a
graph, the chosen models with reasons, rendered outputs and the answer. Runs go through the same ``RunManager`` as
the API, so UI runs are stored and visible under ``/v1/runs`` too. Who may call the UI's routes, and how: see
``uiguard``; which LLM endpoints a session may choose: ``uiparts.llm_policy``."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..errors import HuggingGPTError
from .deps import ServerState
from .errors import APIError
from .inputs import Inputs
from .uiguard import guard_mounted_ui
from .uiparts import (
    CSS,
    EXAMPLES,
    HEADER,
    OUTCOME,
    LLMPolicy,
    ProgressBoard,
    check_endpoint,
    llm_label,
    llm_policy,
    session_agent,
)

log = logging.getLogger(__name__)
PLACEHOLDER = "Message HuggingGPT (attach files with the clip)…"
BUSY_PLACEHOLDER = "Working on your request… you can send the next message when it is answered."
_ART_URL = re.compile(r"/v1/artifacts/([0-9a-f]{64})(\.[a-z0-9]{1,5})?")


def mount_ui(app: Any, st: ServerState) -> Any:
    """Mount the Gradio Blocks at /ui on ``app`` and return the app."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    policy = llm_policy(st.settings)  # a malformed allowlist stops the server here, with a ConfigError
    if st.settings.ui_llm_settings and not policy.enabled:
        log.warning("server.ui_llm_settings is on but has no effect: %s", policy.reason)
    blocks = build_blocks(st, policy)
    blocks.run_history = False  # Gradio's run-history page would keep a second, browser-side copy of every run
    theme = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate",
                           font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                           font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
    app = gr.mount_gradio_app(app, blocks, path="/ui", allowed_paths=[str(st.gate.store.root)], ssr_mode=False,
                              max_file_size=int(st.gate.max_bytes), theme=theme, css=CSS, footer_links=[],
                              show_error=True)
    guard_mounted_ui(app, "/ui", api_key=st.settings.api_key, cors_origins=st.settings.cors_origins)
    return app


def build_blocks(st: ServerState, policy: LLMPolicy | None = None) -> Any:
    """The Blocks of the UI. Every event is ``api_visibility="private"``: the page calls them, programs use the
    HTTP API (Gradio's own API routes are turned off by ``uiguard``)."""
    import gradio as gr

    policy = policy or llm_policy(st.settings)
    can_configure = policy.enabled
    with gr.Blocks(title="HuggingGPT", fill_height=True) as demo:
        session = gr.State(None)
        gr.HTML(HEADER.format(llm=llm_label(st.agent.config)), elem_id="hg-header", padding=False)
        with gr.Row(equal_height=False, elem_id="hg-main"):
            with gr.Column(scale=7, min_width=420):
                chat = gr.Chatbot(elem_id="hg-chat", height="calc(100vh - 210px)", min_height=380,
                                  show_label=False, layout="bubble", feedback_options=None, buttons=["copy"],
                                  placeholder="**Ask for something that needs models.** Attach images, audio or "
                                              "video with the clip, e.g. *describe this image and read it aloud*.",
                                  examples=[{"text": e[0]} for e in EXAMPLES])
                box = gr.MultimodalTextbox(elem_id="hg-input", show_label=False, file_count="multiple",
                                           file_types=["image", "audio", "video"], sources=["upload"],
                                           placeholder=PLACEHOLDER, autofocus=True)
            with gr.Column(scale=5, min_width=340, elem_id="hg-side"):
                progress = gr.HTML(ProgressBoard().progress_html(), elem_id="hg-progress", padding=False)
                plan = gr.HTML(ProgressBoard().plan_html(), elem_id="hg-plan", padding=False)
                models = gr.HTML(ProgressBoard().models_html(), elem_id="hg-models", padding=False)
                with gr.Accordion("LLM settings", open=False, elem_id="hg-settings"):
                    backend = gr.Radio(["server default", "OpenAI-compatible"], value="server default",
                                       label="Controller LLM", interactive=can_configure)
                    with gr.Row():
                        # Only the operator's allowlist can be chosen; anything typed in is checked against it too.
                        base_url = gr.Dropdown(list(policy.allowlist), value=None, label="Base URL",
                                               allow_custom_value=True, interactive=can_configure, scale=3)
                        model = gr.Textbox(label="Model", placeholder="qwen2.5:14b-instruct",
                                           interactive=can_configure, scale=2)
                    with gr.Row():
                        key = gr.Textbox(label="API key", type="password", interactive=can_configure, scale=3)
                        planner = gr.Dropdown(["auto", "offline", "llm"], value="auto", label="Planner",
                                              interactive=can_configure, scale=2)
                    apply = gr.Button("Apply to this session", variant="secondary", interactive=can_configure)
                    settings_note = gr.Markdown(_settings_note(policy))
                clear = gr.Button("New conversation", size="sm", variant="secondary")

        def box_state(busy: bool, value: Any = None) -> Any:
            """The message box: disabled while a run of this page goes on (as Gradio's ChatInterface does), so a
            message can never be typed and then silently dropped; ``unlock`` enables it again when the run ends."""
            return gr.MultimodalTextbox(value=value, interactive=not busy,
                                        placeholder=BUSY_PLACEHOLDER if busy else PLACEHOLDER)

        async def respond(message: dict[str, Any], history: list[Any], sess: dict[str, Any] | None
                          ) -> AsyncIterator[tuple[Any, ...]]:
            sess = dict(sess or {})
            sess.setdefault("conversation", uuid.uuid4().hex)
            history = list(history or [])
            board = ProgressBoard()
            text = ((message or {}).get("text") or "").strip()
            files = (message or {}).get("files") or []
            if not text and not files:  # Enter on an empty box: nothing to do, nothing to complain about
                yield history, box_state(True), gr.skip(), gr.skip(), gr.skip(), sess
                return
            paths: list[Path] = []
            try:
                for f in files:
                    fpath = f if isinstance(f, str) else f.get("path")
                    art, media = st.gate.upload_path(Path(fpath), Path(fpath).name)
                    paths.append(art.path)
                    history.append({"role": "user", "content": _media(gr, media, art.path)})
                if text:
                    history.append({"role": "user", "content": text})
                yield history, box_state(True), board.progress_html(), board.plan_html(), board.models_html(), sess
                agent = session_agent(st, sess.get("llm"))
                conv_history = [{"role": m["role"], "content": m["content"], "files": m["files"]}
                                for m in st.db.messages(sess["conversation"])]
                inputs = Inputs(request=text, history=conv_history, files=paths)
                run_id = await st.runs.start(inputs, source="ui", conversation_id=sess["conversation"], agent=agent)
            except Exception as exc:  # a refused input, or a bug: shown in the chat, not as Gradio's "Error" toast
                named = isinstance(exc, (APIError, HuggingGPTError))
                if not named:  # a bug: its text may hold internals, so the log gets it and the chat its name
                    log.exception("web UI: could not start a run")
                history.append({"role": "assistant", "content": _error_text(exc) if named else
                                f"⚠️ Internal error ({type(exc).__name__}); see the server log."})
                # The text goes back into the box, so it can be corrected and sent again.
                yield (history, box_state(True, {"text": text, "files": []}), board.progress_html(),
                       board.plan_html(), board.models_html(), sess)
                return
            board.run_id = run_id
            busy = box_state(True)
            try:
                async for ev in st.runs.follow(run_id):
                    if ev is not None:
                        board.update(ev)
                    yield history, busy, board.progress_html(), board.plan_html(), board.models_html(), sess
                rec = st.db.get_run(run_id)
                if rec is not None:
                    board.finish(rec.status, rec.result)
                history += _answer_messages(gr, st, rec)
            except Exception as exc:  # the run goes on in the RunManager; say what the UI lost
                log.exception("web UI: lost track of run %s", run_id)
                board.final = board.final or "failed"
                history.append({"role": "assistant", "content": f"⚠️ The UI lost track of run {run_id} "
                                                                f"({type(exc).__name__}); see /v1/runs/{run_id}."})
            yield history, box_state(True), board.progress_html(), board.plan_html(), board.models_html(), sess

        outputs = [chat, box, progress, plan, models, session]
        sent = box.submit(respond, [box, chat, session], outputs, concurrency_limit=None, show_progress="hidden",
                          api_visibility="private")

        def unlock() -> Any:
            """Enable the box once ``respond`` has completed, not in its last update: Gradio ignores a submit while
            the event is still pending, so an Enter pressed between that update and the completion was dropped."""
            return gr.MultimodalTextbox(interactive=True, placeholder=PLACEHOLDER)

        # Then the focus goes back to the box, so Enter sends the next message straight away.
        sent.then(unlock, None, [box], show_progress="hidden", api_visibility="private").then(
            None, None, None, js="() => { document.querySelector('#hg-input textarea')?.focus(); }",
            api_visibility="private")

        def new_conversation(sess: dict[str, Any] | None) -> tuple[Any, ...]:
            sess = {**(sess or {}), "conversation": uuid.uuid4().hex}
            b = ProgressBoard()
            return [], box_state(False), b.progress_html(), b.plan_html(), b.models_html(), sess

        # Stops following the current run (it still finishes and is stored) so its answer cannot land in the new one.
        clear.click(new_conversation, [session], outputs, cancels=[sent], api_visibility="private")

        def use_example(evt: gr.SelectData) -> dict[str, Any]:
            return {"text": evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value),
                    "files": []}

        use_example.__annotations__["evt"] = gr.SelectData  # resolved: gradio injects the event by this type
        chat.example_select(use_example, None, box, api_visibility="private")

        def apply_settings(sess: dict[str, Any] | None, which: str, url: str, name: str, api_key: str,
                           plan_mode: str) -> tuple[dict[str, Any], str]:
            sess = dict(sess or {})
            if not policy.enabled:
                return sess, _settings_note(policy)
            if which == "server default":
                sess["llm"] = {"planner": plan_mode} if plan_mode != "auto" else None
                return sess, f"Using the server's LLM ({llm_label(st.agent.config)}), planner: {plan_mode}."
            try:
                endpoint = check_endpoint(policy, url or "")
            except HuggingGPTError as exc:
                return sess, _error_text(exc)
            sess["llm"] = {"base_url": endpoint, "model": (name or "").strip() or None, "api_key": api_key or None,
                           "planner": plan_mode}
            return sess, f"This session now uses `{(name or '').strip() or 'default model'}` at `{endpoint}`."

        apply.click(apply_settings, [session, backend, base_url, model, key, planner], [session, settings_note],
                    api_visibility="private")
    return demo


def _settings_note(policy: LLMPolicy) -> str:
    if not policy.enabled:
        return f"*{policy.reason}*"
    if not policy.allowlist:
        return "*Only the server's LLM: no other endpoint is allowed (server.ui_llm_allowlist is empty).*"
    return "Allowed endpoints: " + ", ".join(f"`{u}`" for u in policy.allowlist)


def _media(gr: Any, media: str, path: Path) -> Any:
    # No "share" button anywhere: it works only on Hugging Face Spaces and elsewhere just shows an error.
    if media == "image":
        return gr.Image(value=str(path), show_label=False, buttons=["download", "fullscreen"])
    if media == "audio":
        return gr.Audio(value=str(path), show_label=False, buttons=["download"])
    if media == "video":
        return gr.Video(value=str(path), show_label=False, buttons=["download"])
    return {"path": str(path)}


def _answer_messages(gr: Any, st: ServerState, rec: Any) -> list[dict[str, Any]]:
    """The assistant's turn: the answer (artifact URLs as short links), then every output rendered."""
    if rec is None:
        return [{"role": "assistant", "content": "⚠️ The run was lost."}]
    result = rec.result or {}
    answer = st.view.text(result.get("answer", "")) or ""
    status = rec.status if rec.status in ("failed", "interrupted") else str(result.get("status") or rec.status)
    if status != "succeeded":
        err = rec.error or {}
        answer = answer or f"⚠️ {err.get('message', 'The run ' + status + '.')}"
        hint = err.get("hint") or ""
        if hint and hint not in answer:
            answer += f"\n\n*{hint}*"
        answer = _status_line(status, result) + answer
    answer = _ART_URL.sub(lambda m: f"[{m.group(1)[:10]}…{m.group(2) or ''}](/v1/artifacts/{m.group(1)}"
                                    f"{m.group(2) or ''})", answer)
    answer = re.sub(r"(?m)^(\s*)(\d+)\. ", r"\1\2\\. ", answer)  # "0. task" lines are not a Markdown list
    out: list[dict[str, Any]] = [{"role": "assistant", "content": answer or "(no answer)"}]
    for r in result.get("results", []):
        for a in r.get("outputs", []):
            if a["kind"] in ("image", "audio", "video"):
                out.append({"role": "assistant", "content": _media(gr, a["kind"], Path(a["path"]))})
    return out


def _status_line(status: str, result: dict[str, Any]) -> str:
    """A first line that says how the run ended, so a failed or partial run never reads as a success."""
    results = result.get("results") or []
    failed = [r for r in results if r.get("status") in ("failed", "skipped")]
    label = OUTCOME.get(status, status).capitalize()
    if results and failed:
        names = ", ".join(f"#{(r.get('task') or {}).get('id', '?')} {(r.get('task') or {}).get('task', '')}".strip()
                          for r in failed[:4]) + (", …" if len(failed) > 4 else "")
        tasks = "tasks" if len(results) > 1 else "task"
        return f"**{label}**: {len(failed)} of {len(results)} {tasks} did not finish ({names}).\n\n"
    return f"**{label}.**\n\n" if status != "partial" else ""


def _error_text(exc: Exception) -> str:
    message = getattr(exc, "message", str(exc))
    hint = getattr(exc, "hint", None)
    return f"⚠️ {message}" + (f"\n\n*{hint}*" if hint else "")
