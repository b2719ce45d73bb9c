"""The web UI at ``/ui`` (Gradio, mounted on the server's app): chat with uploads, live progress, the plan as a
graph, the chosen models with reasons, rendered outputs and the answer. Runs go through the same ``RunManager`` as
the API, so UI runs are stored and visible under ``/v1/runs`` too."""

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
from .uiparts import CSS, EXAMPLES, HEADER, ProgressBoard, llm_label, session_agent

log = logging.getLogger(__name__)
_ART_URL = re.compile(r"/v1/artifacts/([0-9a-f]{64})(\.[a-z0-9]{1,5})?")


def mount_ui(app: Any, st: ServerState) -> Any:
    """Mount the Gradio Blocks at /ui on ``app`` and return the app."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    blocks = build_blocks(st)
    theme = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate",
                           font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                           font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
    return gr.mount_gradio_app(app, blocks, path="/ui", allowed_paths=[str(st.gate.store.root)], ssr_mode=False,
                               max_file_size=int(st.gate.max_bytes), theme=theme, css=CSS, footer_links=["api"],
                               show_error=True)


def build_blocks(st: ServerState) -> Any:
    import gradio as gr

    can_configure = st.settings.ui_llm_settings
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
                                           placeholder="Message HuggingGPT (attach files with the clip)…",
                                           autofocus=True)
            with gr.Column(scale=5, min_width=340, elem_id="hg-side"):
                progress = gr.HTML(ProgressBoard().progress_html(), elem_id="hg-progress", padding=False)
                plan = gr.HTML(ProgressBoard().plan_html(), elem_id="hg-plan", padding=False)
                models = gr.HTML(ProgressBoard().models_html(), elem_id="hg-models", padding=False)
                with gr.Accordion("LLM settings", open=False, elem_id="hg-settings"):
                    backend = gr.Radio(["server default", "OpenAI-compatible"], value="server default",
                                       label="Controller LLM", interactive=can_configure)
                    with gr.Row():
                        base_url = gr.Textbox(label="Base URL", placeholder="http://127.0.0.1:11434/v1",
                                              interactive=can_configure, scale=3)
                        model = gr.Textbox(label="Model", placeholder="qwen2.5:14b-instruct",
                                           interactive=can_configure, scale=2)
                    with gr.Row():
                        key = gr.Textbox(label="API key", type="password", interactive=can_configure, scale=3)
                        planner = gr.Dropdown(["auto", "offline", "llm"], value="auto", label="Planner",
                                              interactive=can_configure, scale=2)
                    apply = gr.Button("Apply to this session", variant="secondary", interactive=can_configure)
                    settings_note = gr.Markdown("" if can_configure else
                                                "*Changing the LLM is disabled on this server.*")
                clear = gr.Button("New conversation", size="sm", variant="secondary")

        async def respond(message: dict[str, Any], history: list[Any], sess: dict[str, Any] | None
                          ) -> AsyncIterator[tuple[Any, ...]]:
            sess = dict(sess or {})
            sess.setdefault("conversation", uuid.uuid4().hex)
            history = list(history or [])
            board = ProgressBoard()
            text = (message or {}).get("text", "").strip()
            paths: list[Path] = []
            try:
                for f in (message or {}).get("files", []):
                    fpath = f if isinstance(f, str) else f.get("path")
                    art, media = st.gate.upload_path(Path(fpath), Path(fpath).name)
                    paths.append(art.path)
                    history.append({"role": "user", "content": _media(gr, media, art.path)})
                if text:
                    history.append({"role": "user", "content": text})
                yield history, None, board.progress_html(), board.plan_html(), board.models_html(), sess
                agent = session_agent(st, sess.get("llm"))
                conv_history = [{"role": m["role"], "content": m["content"], "files": m["files"]}
                                for m in st.db.messages(sess["conversation"])]
                inputs = Inputs(request=text, history=conv_history, files=paths)
                run_id = await st.runs.start(inputs, source="ui", conversation_id=sess["conversation"], agent=agent)
            except (APIError, HuggingGPTError) as exc:
                history.append({"role": "assistant", "content": _error_text(exc)})
                yield history, None, board.progress_html(), board.plan_html(), board.models_html(), sess
                return
            board.run_id = run_id
            async for ev in st.runs.follow(run_id):
                if ev is not None:
                    board.update(ev)
                yield history, None, board.progress_html(), board.plan_html(), board.models_html(), sess
            rec = st.db.get_run(run_id)
            history += _answer_messages(gr, st, rec)
            yield history, None, board.progress_html(), board.plan_html(), board.models_html(), sess

        outputs = [chat, box, progress, plan, models, session]
        box.submit(respond, [box, chat, session], outputs, concurrency_limit=None, show_progress="hidden")

        def new_conversation(sess: dict[str, Any] | None) -> tuple[Any, ...]:
            sess = {**(sess or {}), "conversation": uuid.uuid4().hex}
            b = ProgressBoard()
            return [], None, b.progress_html(), b.plan_html(), b.models_html(), sess

        clear.click(new_conversation, [session], outputs)

        def use_example(evt: gr.SelectData) -> dict[str, Any]:
            return {"text": evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value),
                    "files": []}

        use_example.__annotations__["evt"] = gr.SelectData  # resolved: gradio injects the event by this type
        chat.example_select(use_example, None, box)

        def apply_settings(sess: dict[str, Any] | None, which: str, url: str, name: str, api_key: str,
                           plan_mode: str) -> tuple[dict[str, Any], str]:
            sess = dict(sess or {})
            if not can_configure:
                return sess, "*Changing the LLM is disabled on this server.*"
            if which == "server default":
                sess["llm"] = {"planner": plan_mode} if plan_mode != "auto" else None
                return sess, f"Using the server's LLM ({llm_label(st.agent.config)}), planner: {plan_mode}."
            if not url.strip().startswith(("http://", "https://")):
                return sess, "⚠️ Give the endpoint's base URL, e.g. `http://127.0.0.1:11434/v1`."
            sess["llm"] = {"base_url": url.strip(), "model": name.strip() or None, "api_key": api_key or None,
                           "planner": plan_mode}
            return sess, f"This session now uses `{name.strip() or 'default model'}` at `{url.strip()}`."

        apply.click(apply_settings, [session, backend, base_url, model, key, planner], [session, settings_note])
    return demo


def _media(gr: Any, media: str, path: Path) -> Any:
    if media == "image":
        return gr.Image(value=str(path), show_label=False, buttons=["download", "fullscreen"])
    if media == "audio":
        return gr.Audio(value=str(path), show_label=False, buttons=["download"])
    if media == "video":
        return gr.Video(value=str(path), show_label=False)
    return {"path": str(path)}


def _answer_messages(gr: Any, st: ServerState, rec: Any) -> list[dict[str, Any]]:
    """The assistant's turn: the answer (artifact URLs as short links), then every output rendered."""
    if rec is None:
        return [{"role": "assistant", "content": "⚠️ The run was lost."}]
    result = rec.result or {}
    answer = st.view.text(result.get("answer", "")) or ""
    if rec.status != "succeeded":
        err = rec.error or {}
        answer = answer or f"⚠️ {err.get('message', 'The run ' + rec.status + '.')}"
        hint = err.get("hint") or ""
        if hint and hint not in answer:
            answer += f"\n\n*{hint}*"
    answer = _ART_URL.sub(lambda m: f"[{m.group(1)[:10]}…{m.group(2) or ''}](/v1/artifacts/{m.group(1)}"
                                    f"{m.group(2) or ''})", answer)
    answer = re.sub(r"(?m)^(\s*)(\d+)\. ", r"\1\2\\. ", answer)  # "0. task" lines are not a Markdown list
    out: list[dict[str, Any]] = [{"role": "assistant", "content": answer or "(no answer)"}]
    for r in result.get("results", []):
        for a in r.get("outputs", []):
            if a["kind"] in ("image", "audio", "video"):
                out.append({"role": "assistant", "content": _media(gr, a["kind"], Path(a["path"]))})
    return out


def _error_text(exc: Exception) -> str:
    message = getattr(exc, "message", str(exc))
    hint = getattr(exc, "hint", None)
    return f"⚠️ {message}" + (f"\n\n*{hint}*" if hint else "")
