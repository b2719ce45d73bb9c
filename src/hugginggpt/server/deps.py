"""What routes share: the server state object and the synchronous-run helper."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request

from ..agent import HuggingGPT
from ..config import HuggingGPTConfig, ServerSettings
from ..results import RunResult
from .errors import APIError, status_of
from .inputs import InputGate, Inputs
from .runs import ANSWERED, RunManager
from .store import RunRecord, ServerDB
from .view import PublicView

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class ServerState:
    """Everything the routes and the UI use, built once by ``create_app``."""

    config: HuggingGPTConfig
    settings: ServerSettings
    agent: HuggingGPT
    db: ServerDB
    view: PublicView
    gate: InputGate
    runs: RunManager

    async def run_and_wait(self, inputs: Inputs, source: str, conversation_id: str | None = None
                           ) -> tuple[RunRecord, RunResult]:
        """Run to the end. A run that succeeded, or partly succeeded (some tasks have results; the answer states
        the failures), is returned; a failed or interrupted one becomes an HTTP error with the status of its error
        (never a 200)."""
        run_id = await self.runs.start(inputs, source=source, conversation_id=conversation_id)
        rec = await self.runs.wait(run_id)
        if rec is None:  # pragma: no cover - the row was written by start()
            raise APIError(500, "internal_error", f"Run {run_id} vanished.")
        if rec.status not in ANSWERED or rec.result is None:
            err = rec.error or {"code": "internal_error", "message": f"Run {run_id} {rec.status}."}
            raise APIError(status_of(err["code"], err["message"], err.get("type")), err["code"],
                           self.view.text(err["message"]), self.view.text(err.get("hint") or "") or None,
                           headers={"X-HuggingGPT-Run": run_id},
                           type_=err.get("type"))
        return rec, RunResult.model_validate(rec.result)

    def get_run(self, run_id: str) -> RunRecord:
        rec = self.db.get_run(run_id) if ID_RE.match(run_id) else None
        if rec is None:
            raise APIError(404, "not_found", f"No run {run_id!r}.", "List runs with GET /v1/runs.")
        return rec


def state(request: Request) -> ServerState:
    st: ServerState = request.app.state.hg  # set by create_app
    return st
