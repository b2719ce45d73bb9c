"""Durable server state in SQLite (stdlib ``sqlite3``): runs, their events, results, conversations and uploads, and
a digest of each run's answer (so that an answer a client sends back in its chat history finds its run).

One connection shared by the event loop and worker threads, guarded by a lock; statements are tiny, so holding the
lock is cheaper than a connection per call. WAL mode keeps readers from blocking the writer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUN_STATES = ("queued", "running", "succeeded", "partial", "failed", "interrupted")
FINISHED = ("succeeded", "partial", "failed", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, source TEXT NOT NULL, request TEXT NOT NULL,
    input TEXT NOT NULL, conversation_id TEXT, created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    result TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs(created_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL, event TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
    files TEXT NOT NULL, run_id TEXT, at REAL NOT NULL, PRIMARY KEY (conversation_id, seq));
CREATE TABLE IF NOT EXISTS answers (
    digest TEXT NOT NULL, run_id TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (digest, run_id));
CREATE TABLE IF NOT EXISTS uploads (
    sha256 TEXT PRIMARY KEY, filename TEXT, media TEXT NOT NULL, mime TEXT NOT NULL, size INTEGER NOT NULL,
    created_at REAL NOT NULL);
"""


@dataclass
class RunRecord:
    """One row of ``runs``; ``result`` is the stored ``RunResult`` JSON (internal form, workspace paths)."""

    id: str
    status: str
    source: str
    request: str
    input: dict[str, Any]
    conversation_id: str | None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass
class StoredEvent:
    run_id: str
    seq: int
    at: float
    event: dict[str, Any] = field(default_factory=dict)


class ServerDB:
    """The server's SQLite file. Every method is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        with self._tx() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.executescript(_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ----- runs -------------------------------------------------------------------------------------------------
    def create_run(self, rec: RunRecord) -> None:
        with self._tx() as c:
            c.execute("INSERT INTO runs (id, status, source, request, input, conversation_id, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (rec.id, rec.status, rec.source, rec.request, json.dumps(rec.input), rec.conversation_id,
                       rec.created_at))

    def mark_running(self, run_id: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET status='running', started_at=? WHERE id=?", (time.time(), run_id))

    def finish_run(self, run_id: str, status: str, result: dict[str, Any] | None,
                   error: dict[str, Any] | None) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET status=?, finished_at=?, result=?, error=? WHERE id=?",
                      (status, time.time(), json.dumps(result) if result is not None else None,
                       json.dumps(error) if error is not None else None, run_id))

    def interrupt_unfinished(self, reason: str) -> list[str]:
        """Mark queued/running runs as ``interrupted`` (after a crash or on shutdown) and close each one's event
        stream with a final ``answer`` event, as a finished run's stream ends; returns their ids."""
        err = {"type": "Interrupted", "code": "interrupted", "message": reason,
               "hint": "Start the request again."}
        now = time.time()
        with self._tx() as c:
            ids = [r["id"] for r in c.execute("SELECT id FROM runs WHERE status IN ('queued', 'running')")]
            c.executemany("UPDATE runs SET status='interrupted', finished_at=?, error=? WHERE id=?",
                          [(now, json.dumps(err), i) for i in ids])
            for i in ids:
                seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id=?", (i,)).fetchone()[0]
                event = {"kind": "answer", "stage": "done", "status": "interrupted", "message": "", "seq": seq,
                         "at": now, "data": {"run_id": i, "error": err}}
                c.execute("INSERT INTO events (run_id, seq, at, event) VALUES (?, ?, ?, ?)",
                          (i, seq, now, json.dumps(event)))
        return ids

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._tx() as c:
            row = c.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return _run(row) if row else None

    def list_runs(self, limit: int = 50, status: str | None = None) -> list[RunRecord]:
        sql, args = "SELECT * FROM runs", []
        if status:
            sql, args = sql + " WHERE status=?", [status]
        with self._tx() as c:
            rows = c.execute(sql + " ORDER BY created_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [_run(r) for r in rows]

    def add_answer(self, run_id: str, digest: str) -> None:
        """Record the digest of a finished run's answer (``RunManager.answer_digest``)."""
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO answers (digest, run_id, at) VALUES (?, ?, ?)", (digest, run_id,
                                                                                            time.time()))

    def run_with_answer(self, digest: str) -> str | None:
        """The id of the latest run whose answer has this digest, or None."""
        with self._tx() as c:
            row = c.execute("SELECT run_id FROM answers WHERE digest=? ORDER BY at DESC LIMIT 1", (digest,)).fetchone()
        return str(row["run_id"]) if row else None

    # ----- events -----------------------------------------------------------------------------------------------
    def add_event(self, run_id: str, seq: int, event: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute("INSERT INTO events (run_id, seq, at, event) VALUES (?, ?, ?, ?)",
                      (run_id, seq, event.get("at") or time.time(), json.dumps(event)))

    def events(self, run_id: str, after: int = 0) -> list[StoredEvent]:
        with self._tx() as c:
            rows = c.execute("SELECT * FROM events WHERE run_id=? AND seq>? ORDER BY seq", (run_id, after)).fetchall()
        return [StoredEvent(r["run_id"], r["seq"], r["at"], json.loads(r["event"])) for r in rows]

    def last_event(self, run_id: str) -> StoredEvent | None:
        with self._tx() as c:
            r = c.execute("SELECT * FROM events WHERE run_id=? ORDER BY seq DESC LIMIT 1", (run_id,)).fetchone()
        return StoredEvent(r["run_id"], r["seq"], r["at"], json.loads(r["event"])) if r else None

    def last_seq(self, run_id: str) -> int:
        with self._tx() as c:
            row = c.execute("SELECT MAX(seq) AS m FROM events WHERE run_id=?", (run_id,)).fetchone()
        return int(row["m"] or 0)

    # ----- conversations ----------------------------------------------------------------------------------------
    def ensure_conversation(self, conv_id: str) -> None:
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?)",
                      (conv_id, now, now))

    def conversation_exists(self, conv_id: str) -> bool:
        with self._tx() as c:
            return c.execute("SELECT 1 FROM conversations WHERE id=?", (conv_id,)).fetchone() is not None

    def add_message(self, conv_id: str, role: str, content: str, files: list[str], run_id: str | None) -> None:
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?)",
                      (conv_id, now, now))
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id=?",
                            (conv_id,)).fetchone()[0]
            c.execute("INSERT INTO messages (conversation_id, seq, role, content, files, run_id, at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)", (conv_id, seq, role, content, json.dumps(files), run_id, now))
            c.execute("UPDATE conversations SET updated_at=? WHERE id=?", (now, conv_id))

    def messages(self, conv_id: str, last: int | None = None) -> list[dict[str, Any]]:
        """The conversation's messages in order; with ``last``, only the most recent ``last`` of them."""
        with self._tx() as c:
            if last is None:
                rows = c.execute("SELECT * FROM messages WHERE conversation_id=? ORDER BY seq", (conv_id,)).fetchall()
            else:
                rows = c.execute("SELECT * FROM (SELECT * FROM messages WHERE conversation_id=? ORDER BY seq DESC "
                                 "LIMIT ?) ORDER BY seq", (conv_id, last)).fetchall()
        return [{"role": r["role"], "content": r["content"], "files": json.loads(r["files"]), "run_id": r["run_id"],
                 "at": r["at"]} for r in rows]

    # ----- uploads ----------------------------------------------------------------------------------------------
    def add_upload(self, sha256: str, filename: str | None, media: str, mime: str, size: int) -> None:
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO uploads (sha256, filename, media, mime, size, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (sha256, filename, media, mime, size, time.time()))


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(id=row["id"], status=row["status"], source=row["source"], request=row["request"],
                     input=json.loads(row["input"]), conversation_id=row["conversation_id"],
                     created_at=row["created_at"], started_at=row["started_at"], finished_at=row["finished_at"],
                     result=json.loads(row["result"]) if row["result"] else None,
                     error=json.loads(row["error"]) if row["error"] else None)
