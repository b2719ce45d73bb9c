"""Run history in the workspace, shared by the CLI and the server: the server's SQLite file (``server/store.py``,
stdlib only) plus what the CLI needs beyond it: recording a CLI run, finding a run by an id prefix, deleting runs,
and freeing the artifact files no run refers to any more.

A run refers to an artifact when the artifact's sha256 (its file name in ``<workspace>/artifacts``) appears in the
run's stored input, result or error: outputs, inputs copied into the store, files of earlier turns. Uploads the server
keeps and files attached to conversation messages count as references too, so a file a client uploaded for a later
request is not freed under it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .server.store import FINISHED, RunRecord, ServerDB

SHA256 = re.compile(r"[0-9a-f]{64}")
DAY = 86400.0
# A run still queued or running protects the files written since it started (its outputs are not recorded yet);
# a record left "running" by a process that was killed stops protecting anything after this long.
STALE_AFTER = DAY


def artifacts_dir(config: Any) -> Path:
    return Path(config.workspace_path) / "artifacts"


class AmbiguousRunId(LookupError):
    """An id prefix matching several runs."""

    def __init__(self, prefix: str, ids: list[str]) -> None:
        super().__init__(f"{prefix!r} matches {len(ids)} runs: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}")
        self.ids = ids


@dataclass
class Freed:
    """What a cleanup removed: run records, artifact files and their bytes; ``kept`` counts the files that were
    candidates but are still referenced (or too recent to be sure)."""

    runs: int = 0
    files: int = 0
    bytes: int = 0
    kept: int = 0


class RunStore(ServerDB):
    """The run database with deletion and reference queries (each one short transaction, as in ``ServerDB``)."""

    def find(self, id_or_prefix: str) -> RunRecord | None:
        """The run with this id, or the only run whose id starts with it. Raises ``AmbiguousRunId``."""
        exact = self.get_run(id_or_prefix)
        if exact is not None or not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", id_or_prefix):
            return exact
        with self._tx() as c:
            ids = [r["id"] for r in c.execute("SELECT id FROM runs WHERE id LIKE ? ORDER BY created_at DESC",
                                              (id_or_prefix + "%",))]
        if len(ids) > 1:
            raise AmbiguousRunId(id_or_prefix, ids)
        return self.get_run(ids[0]) if ids else None

    def delete_runs(self, ids: Iterable[str]) -> int:
        """Delete runs and their events; returns how many runs there were."""
        ids = list(ids)
        with self._tx() as c:
            c.execute("BEGIN")
            try:
                n = 0
                for run_id in ids:
                    c.execute("DELETE FROM events WHERE run_id=?", (run_id,))
                    n += c.execute("DELETE FROM runs WHERE id=?", (run_id,)).rowcount
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return n

    def finished_before(self, cutoff: float) -> list[str]:
        """Ids of the finished runs created before ``cutoff`` (a Unix time)."""
        marks = ",".join("?" * len(FINISHED))
        with self._tx() as c:
            return [r["id"] for r in c.execute(f"SELECT id FROM runs WHERE status IN ({marks}) AND created_at < ?",
                                               (*FINISHED, cutoff))]

    def referenced(self) -> set[str]:
        """Every artifact hash some run, upload or conversation message refers to."""
        found: set[str] = set()
        with self._tx() as c:
            for row in c.execute("SELECT input, result, error FROM runs"):
                for text in row:
                    if text:
                        found.update(SHA256.findall(text))
            found.update(r[0] for r in c.execute("SELECT sha256 FROM uploads"))
            for (files,) in c.execute("SELECT files FROM messages"):
                found.update(SHA256.findall(files or ""))
        return found

    def protected_since(self, now: float | None = None) -> float | None:
        """The start of the oldest run still queued or running (not stale): files written since then may be its
        unrecorded outputs. None when nothing runs."""
        now = time.time() if now is None else now
        with self._tx() as c:
            row = c.execute("SELECT MIN(created_at) FROM runs WHERE status IN ('queued', 'running') AND created_at > ?",
                            (now - STALE_AFTER,)).fetchone()
        return row[0] if row and row[0] is not None else None


def run_hashes(rec: RunRecord) -> set[str]:
    """The artifact hashes one run refers to."""
    found: set[str] = set()
    for part in (rec.input, rec.result, rec.error):
        if part:
            found.update(SHA256.findall(json.dumps(part)))
    return found


def artifact_files(root: Path) -> dict[str, list[Path]]:
    """The store's files by hash (``<sha256><ext>``); temporary ``.part`` files and anything else are left out."""
    out: dict[str, list[Path]] = {}
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return out
    for entry in entries:
        stem, _, ext = entry.name.partition(".")
        if SHA256.fullmatch(stem) and ext != "part" and entry.is_file(follow_symlinks=False):
            out.setdefault(stem, []).append(Path(entry.path))
    return out


def remove_files(root: Path, candidates: Iterable[str] | None, referenced: set[str],
                 protect_since: float | None) -> Freed:
    """Delete the artifact files of ``candidates`` (every file of the store when None) that no run refers to and
    that were not written since ``protect_since``."""
    freed = Freed()
    files = artifact_files(root)
    wanted = set(files) if candidates is None else set(candidates) & set(files)
    for sha in sorted(wanted):
        for path in files[sha]:
            try:
                st = path.stat(follow_symlinks=False)
            except OSError:
                continue
            if sha in referenced or (protect_since is not None and st.st_mtime >= protect_since):
                freed.kept += 1
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            freed.files += 1
            freed.bytes += st.st_size
    return freed


def remove_run(db: RunStore, root: Path, run_id: str) -> Freed:
    """Delete one run and the artifacts only it referred to (a file another run, an upload or a message refers
    to stays)."""
    rec = db.get_run(run_id)
    if rec is None:
        return Freed()
    mine = run_hashes(rec)
    runs = db.delete_runs([run_id])
    freed = remove_files(root, mine, db.referenced(), db.protected_since())
    freed.runs = runs
    return freed


def collect_garbage(db: RunStore, root: Path, older_than_days: float | None = None, now: float | None = None) -> Freed:
    """Delete finished runs created more than ``older_than_days`` ago (none when None), then every artifact file
    no remaining run, upload or message refers to."""
    now = time.time() if now is None else now
    runs = 0
    if older_than_days is not None:
        runs = db.delete_runs(db.finished_before(now - older_than_days * DAY))
    freed = remove_files(root, None, db.referenced(), db.protected_since(now))
    freed.runs = runs
    return freed


def failure_of(result: dict[str, Any]) -> dict[str, Any] | None:
    """The error recorded with a finished run, as the server records it: the run's own error, else for a run whose
    every task failed the first task error (the root cause)."""
    if result.get("status") != "failed":
        return None
    if result.get("error"):
        return result["error"]
    errors = [r.get("error") for r in result.get("results") or [] if r.get("error")]
    return errors[0] if errors else None
