"""Serving artifact files without following symlinks.

The artifact route serves files of the store by name. A symlink planted in the artifacts folder (by anyone who can
write there) must not turn that route into a reader of any file the server can open, so the file is opened with
``O_NOFOLLOW`` and must be a regular file; the response then reopens it the same way and checks it is still the
same file (device and inode), so swapping it for a symlink between the check and the read does not work either.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from fastapi.responses import FileResponse

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # NONBLOCK: a FIFO cannot hang us


def regular_file_stat(path: Path) -> os.stat_result | None:
    """The stat of ``path`` if it is a regular file reached without following a final symlink, else None."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError:  # ELOOP for a symlink, ENOENT, EACCES...
        return None
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return st if stat.S_ISREG(st.st_mode) else None


class NoFollowFileResponse(FileResponse):
    """A ``FileResponse`` (ranges, ETag, HEAD) that opens its file with ``O_NOFOLLOW`` and only if it is still the
    file that was checked (same device and inode as ``stat_result``)."""

    def __init__(self, path: Path, stat_result: os.stat_result, **kwargs: object) -> None:
        super().__init__(path, stat_result=stat_result, **kwargs)  # type: ignore[arg-type]
        self._identity = (stat_result.st_dev, stat_result.st_ino)

    @contextlib.asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        fd = os.open(self.path, _FLAGS)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != self._identity:
                raise RuntimeError(f"{self.path} changed after it was checked; not served")
            os.set_blocking(fd, True)
            raw = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        file = anyio.wrap_file(raw)
        try:
            yield file
        finally:
            with anyio.CancelScope(shield=True):
                await file.aclose()
