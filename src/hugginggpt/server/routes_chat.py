"""JARVIS-compatible (``/hugginggpt``, ``/tasks``, ``/results``) and OpenAI-compatible (``/v1/models``,
``/v1/chat/completions``) routes."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from .deps import ServerState, state
from .errors import APIError, error_body, status_of
from .routing import OffLoopJSONRoute
from .runs import ANSWERED
from .schemas import (
    ERRORS,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    CompletionUsage,
    JarvisMessage,
    JarvisRequest,
    JarvisResult,
    JarvisTask,
    ModelList,
    ModelOut,
)
from .view import describe_event

MODEL_ID = "hugginggpt"
_STARTED = int(time.time())
router = APIRouter(route_class=OffLoopJSONRoute)


# ----- JARVIS ---------------------------------------------------------------------------------------------------
@router.post("/hugginggpt", response_model=JarvisMessage, responses=ERRORS, tags=["JARVIS-compatible"])
async def hugginggpt(body: JarvisRequest, st: ServerState = Depends(state)) -> JarvisMessage:
    """Plan, run the models and answer (JARVIS's server mode)."""
    inputs = await asyncio.to_thread(st.gate.from_messages, body.messages)
    _, result = await st.run_and_wait(inputs, "jarvis")
    return JarvisMessage(message=st.view.text(result.answer))


@router.post("/tasks", response_model=list[JarvisTask], responses=ERRORS, tags=["JARVIS-compatible"])
async def tasks(body: JarvisRequest, st: ServerState = Depends(state)) -> list[JarvisTask]:
    """Stage 1 only: the plan as JARVIS task dicts (an empty list for chit-chat), planned with the chat history as
    ``/hugginggpt`` plans it ("now read it aloud" plans on the previous answer's text)."""
    from ..agent import plan_only

    inputs = await asyncio.to_thread(st.gate.from_messages, body.messages)
    st.runs.check(inputs)
    history = await asyncio.to_thread(st.runs.remember, inputs.history)
    plan = await asyncio.to_thread(plan_only, st.agent, inputs.request, inputs.files, history)
    return [JarvisTask(**st.view.deep(t)) for t in plan.to_jarvis()]


@router.post("/results", response_model=dict[str, JarvisResult], responses=ERRORS, tags=["JARVIS-compatible"],
             response_model_by_alias=True)
async def results(body: JarvisRequest, st: ServerState = Depends(state)) -> dict[str, JarvisResult]:
    """Plan and run; per-task results keyed by task id (``task``, ``inference result``, ``choose model result``)."""
    inputs = await asyncio.to_thread(st.gate.from_messages, body.messages)
    _, result = await st.run_and_wait(inputs, "jarvis")
    return st.view.jarvis_results(result)


# ----- OpenAI ---------------------------------------------------------------------------------------------------
@router.get("/v1/models", response_model=ModelList, responses=ERRORS, tags=["OpenAI-compatible"])
async def models() -> ModelList:
    return ModelList(data=[ModelOut(id=MODEL_ID, created=_STARTED)])


@router.post("/v1/chat/completions", response_model=ChatCompletion, tags=["OpenAI-compatible"],
             responses={**ERRORS, 200: {"content": {"text/event-stream": {}},
                                        "description": "chat.completion, or with stream=true SSE chat.completion.chunk "
                                                       "objects ending with data: [DONE]"}})
async def chat_completions(body: ChatCompletionRequest, st: ServerState = Depends(state)) -> Any:
    """The last user message is the request; ``stream: true`` sends progress as ``reasoning_content`` deltas, then
    the answer as ``content`` deltas."""
    if body.model != MODEL_ID:
        raise APIError(404, "model_not_found", f"The model {body.model!r} does not exist.",
                       f"Use model={MODEL_ID!r} (GET /v1/models).")
    inputs = await asyncio.to_thread(st.gate.from_messages, body.messages, body.files)
    if not body.stream:
        rec, result = await st.run_and_wait(inputs, "openai")
        return ChatCompletion(
            id=f"chatcmpl-{rec.id}", created=int(rec.created_at), model=MODEL_ID,
            choices=[Choice(message=AssistantMessage(content=st.view.text(result.answer), run_id=rec.id))],
            usage=_usage(result.usage),
            hugginggpt={"run_id": rec.id, "status": rec.status,
                        "plan": st.view.deep([t.model_dump() for t in result.plan]),
                        "artifacts": [a.model_dump() for a in st.view.run(rec).artifacts]})
    run_id = await st.runs.start(inputs, source="openai")
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    return StreamingResponse(_stream(st, run_id, include_usage), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                      "X-HuggingGPT-Run": run_id})


async def _stream(st: ServerState, run_id: str, include_usage: bool) -> AsyncIterator[str]:
    cid, created = f"chatcmpl-{run_id}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    async for ev in st.runs.follow(run_id, keepalive=15.0):
        if ev is None:
            yield ": keep-alive\n\n"
            continue
        line = describe_event(ev)
        if line:
            yield chunk({"reasoning_content": line + "\n"}, hugginggpt_event=ev)
    rec = st.db.get_run(run_id)
    if rec is None or rec.status not in ANSWERED or rec.result is None:
        err = (rec.error if rec else None) or {"code": "internal_error", "message": "The run did not finish."}
        body = error_body(err["code"], st.view.text(err["message"]), st.view.text(err.get("hint") or "") or None,
                          status=status_of(err["code"], err["message"], err.get("type")), run_id=run_id)
        yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"
        return
    for piece in re.findall(r"\S+\s*|\s+", st.view.text(rec.result.get("answer", ""))):
        yield chunk({"content": piece})
    yield chunk({}, "stop")
    if include_usage:
        usage = _usage(rec.result.get("usage") or {}).model_dump()
        final = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                 "choices": [], "usage": usage}
        yield f"data: {json.dumps(final)}\n\n"
    yield "data: [DONE]\n\n"


def _usage(u: dict[str, Any]) -> CompletionUsage:
    return CompletionUsage(prompt_tokens=int(u.get("prompt_tokens", 0)),
                           completion_tokens=int(u.get("completion_tokens", 0)),
                           total_tokens=int(u.get("total_tokens", 0)))
