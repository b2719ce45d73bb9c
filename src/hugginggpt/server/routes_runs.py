"""Runs (start, inspect, follow live), conversations, uploads and artifacts."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse

from ..version import __version__
from .deps import ID_RE, ServerState, state
from .errors import APIError
from .files import NoFollowFileResponse, regular_file_stat
from .inputs import Inputs
from .routing import OffLoopJSONRoute
from .schemas import ERRORS, ConversationMessage, ConversationOut, EventOut, FileOut, Health, RunCreate, RunList, RunOut
from .store import RUN_STATES
from .view import ARTIFACT_PREFIX, NAME_RE

router = APIRouter(route_class=OffLoopJSONRoute)
_ARTIFACT = re.compile(r"^" + NAME_RE + r"$")
_DIGITS = re.compile(r"[0-9]+")
MAX_SEQ = 2**62
_STATUSES = "^(" + "|".join(RUN_STATES) + ")$"


@router.get("/healthz", response_model=Health, tags=["server"])
async def healthz(st: ServerState = Depends(state)) -> Health:
    return Health(version=__version__, runs_active=st.runs.active)


# ----- runs -----------------------------------------------------------------------------------------------------
# OpenAPI links: the id a new run answers with is what the run's own routes take (clients and API fuzzers follow
# them from one operation to the next).
_RUN_LINKS: dict[int | str, dict[str, Any]] = {202: {"description": "Accepted: the run, queued or running", "links": {
    "GetRun": {"operationId": "get_run", "parameters": {"run_id": "$response.body#/id"}},
    "RunEvents": {"operationId": "run_events", "parameters": {"run_id": "$response.body#/id"}}}}}


# One SSE event as a client parses it (OpenAPI 3.1: the schema of an event stream describes each event): ``id`` is
# its sequence number, ``event`` its kind, ``data`` an ``EventOut`` as JSON.
_SSE_EVENT: dict[str, Any] = {
    "type": "object", "required": ["id", "event", "data"], "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"type": "string", "enum": ["run", "stage", "task", "error", "answer"]},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": EventOut.model_json_schema()}}}


@router.post("/v1/runs", response_model=RunOut, status_code=202, responses={**ERRORS, **_RUN_LINKS}, tags=["runs"],
             operation_id="create_run")
async def create_run(body: RunCreate, st: ServerState = Depends(state)) -> RunOut:
    """Start a run in the background; follow it at ``events_url`` or poll ``GET /v1/runs/{id}``."""
    conv = body.conversation_id  # the schema checked it (ID_PATTERN), and that exactly one of request/messages is set
    if body.messages is not None:
        inputs = await asyncio.to_thread(st.gate.from_messages, body.messages, body.files)
    else:
        inputs = await asyncio.to_thread(_continue, st, body.request or "", body.files, conv)
    run_id = await st.runs.start(inputs, source="api", conversation_id=conv)
    return st.view.run(st.get_run(run_id))


def _continue(st: ServerState, request: str, files: list[str], conv: str | None) -> Inputs:
    """The inputs of a request continuing stored conversation ``conv`` (read from SQLite: call it in a thread)."""
    history = [{"role": m["role"], "content": m["content"], "files": m["files"]}
               for m in (st.db.messages(conv, last=st.gate.max_history_turns) if conv else [])]
    return st.gate.from_request(request, files, history)


@router.get("/v1/runs", response_model=RunList, responses=ERRORS, tags=["runs"])
async def list_runs(st: ServerState = Depends(state), limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    status: Annotated[str | None, Query(pattern=_STATUSES)] = None) -> RunList:
    """Most recent first."""
    # Up to 500 stored results decoded and converted: a worker thread's job, not the event loop's.
    return await asyncio.to_thread(lambda: RunList(runs=[st.view.run(r) for r in st.db.list_runs(limit, status)]))


@router.get("/v1/runs/{run_id}", response_model=RunOut, responses=ERRORS, tags=["runs"], operation_id="get_run")
async def get_run(run_id: str, st: ServerState = Depends(state)) -> RunOut:
    """Status, plan, chosen models, per-task results, artifacts and the answer."""
    return st.view.run(st.get_run(run_id))


@router.get("/v1/runs/{run_id}/events", tags=["runs"], operation_id="run_events",
            responses={**ERRORS, 200: {"content": {"text/event-stream": {"schema": _SSE_EVENT}},
                                       "description": "SSE: `id: <seq>`, `event: <kind>`, `data: <EventOut JSON>`; "
                                                      "the last event has kind `answer` and stage `done`."}})
async def run_events(run_id: str, st: ServerState = Depends(state),
                     after: Annotated[int, Query(ge=0, description="Only events with seq > after.")] = 0,
                     last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Stage and task events as they happen (stored ones are replayed first; reconnect with Last-Event-ID)."""
    st.get_run(run_id)
    # Sequence numbers are SQLite integers: a larger ?after= or Last-Event-ID (or one of 5,000 digits, past
    # Python's int parsing limit) means "after everything" instead of breaking the stream.
    after = min(after, MAX_SEQ)
    if last_event_id and _DIGITS.fullmatch(last_event_id.strip()):
        digits = last_event_id.strip()
        after = max(after, MAX_SEQ if len(digits) > 18 else min(int(digits), MAX_SEQ))

    async def gen() -> AsyncIterator[str]:
        async for ev in st.runs.follow(run_id, after, keepalive=15.0):
            if ev is None:
                yield ": keep-alive\n\n"
                continue
            yield f"id: {ev['seq']}\nevent: {ev.get('kind', 'message')}\ndata: {json.dumps(ev)}\n\n"

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/v1/conversations/{conversation_id}", response_model=ConversationOut, responses=ERRORS,
            tags=["runs"])
async def get_conversation(conversation_id: str, st: ServerState = Depends(state)) -> ConversationOut:
    if not ID_RE.match(conversation_id) or not st.db.conversation_exists(conversation_id):
        raise APIError(404, "not_found", f"No conversation {conversation_id!r}.",
                       "Start one with POST /v1/runs and a conversation_id.")
    return ConversationOut(id=conversation_id, messages=[
        ConversationMessage(role=m["role"], content=st.view.text(m["content"]),
                            files=[st.view.text(f) for f in m["files"]], run_id=m["run_id"], at=m["at"])
        for m in st.db.messages(conversation_id)])


# ----- files ----------------------------------------------------------------------------------------------------
@router.post("/v1/files", response_model=FileOut, status_code=201, tags=["files"],
             responses=ERRORS)
async def upload(file: Annotated[UploadFile, File(description="An image, audio or video file.")],
                 st: ServerState = Depends(state)) -> FileOut:
    """Store an upload (type from its content, size capped); pass the returned ``name`` in ``files`` or mention it
    in a request."""
    data = await file.read(st.gate.max_bytes + 1)
    art, media = st.gate.upload_bytes(data, file.filename)
    return FileOut(sha256=art.sha256, name=art.name, url=ARTIFACT_PREFIX + art.name, kind=art.kind, mime=art.mime,
                   size=art.size, media=media, filename=file.filename)


@router.get("/v1/artifacts/{name}", tags=["files"], response_class=FileResponse,
            responses={**ERRORS, 200: {"content": {"image/*": {}, "audio/*": {}, "video/*": {}, "text/plain": {}},
                                       "description": "The file, with its content type"}})
async def artifact(name: Annotated[str, PathParam(pattern=_ARTIFACT.pattern, description="<sha256>[.<ext>]")],
                   st: ServerState = Depends(state)) -> FileResponse:
    """An input or output file by ``<sha256>`` or ``<sha256>.<ext>``."""
    if not _ARTIFACT.fullmatch(name):
        raise APIError(400, "bad_request", f"{name!r} is not an artifact name.",
                       "Use the 64-hex-digit sha256, optionally with its extension.")
    store = st.gate.store
    # Off the event loop: the first read after a start verifies the file's hash.
    art = await asyncio.to_thread(store.get, name.split(".", 1)[0], with_text=False)
    # Only a regular file directly in the store, never through a symlink planted there.
    found = (await asyncio.to_thread(regular_file_stat, art.path)
             if art is not None and art.path.parent == store.root else None)
    if art is None or found is None:
        raise APIError(404, "not_found", f"No artifact {name!r}.")
    mime = art.mime + ("; charset=utf-8" if art.mime.startswith("text/") or art.kind == "json" else "")
    return NoFollowFileResponse(art.path, found, media_type=mime, content_disposition_type="inline",
                                filename=art.name, headers={"Cache-Control": "private, max-age=31536000, immutable",
                                 "Content-Security-Policy": "default-src 'none'; media-src 'self'; img-src 'self'; "
                                                            "style-src 'unsafe-inline'; sandbox"})
