"""Hostile inputs made by the tests themselves: decompression-bomb PNGs and slow or odd HTTP servers on loopback.

Everything listens on 127.0.0.1 only and stops when its context ends.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

Respond = Callable[[socket.socket, threading.Event], None]


@functools.lru_cache(maxsize=4)
def bomb_png(width: int = 13000, height: int = 13000) -> bytes:
    """A valid 8-bit paletted PNG of ``width`` x ``height`` black pixels: 13000 x 13000 is about 164 KB on disk and
    169 MB (paletted) to 507 MB (RGB) once decoded. Written row by row, so making it costs no memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    z = zlib.compressobj(9)
    row = b"\x00" * (1 + width)  # filter byte + one palette index per pixel
    body = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff")
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def write_bomb(path: Path, width: int = 13000, height: int = 13000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bomb_png(width, height))
    return path


@contextlib.contextmanager
def loopback_server(respond: Respond, *, max_clients: int = 16) -> Iterator[str]:
    """A raw HTTP server on 127.0.0.1: ``respond(conn, stop)`` is called (in its own daemon thread) for each connection
    after the request head was read. Yields ``http://127.0.0.1:<port>``."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(max_clients)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    part = conn.recv(4096)
                    if not part:
                        return
                    head += part
                respond(conn, stop)
            except OSError:
                pass

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        # Wake the accept() at once (else it waits out its 0.2 s timeout): the loop sees `stop` and returns.
        with contextlib.suppress(OSError):
            socket.create_connection(srv.getsockname(), timeout=1).close()
        thread.join(5)
        srv.close()


def serve_bytes(body: bytes, content_type: str = "image/png") -> Respond:
    """A ``respond`` for :func:`loopback_server` that sends ``body`` at once."""

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type.encode() + b"\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    return respond


def drip(interval: float = 2.0, declared: int = 100_000) -> Respond:
    """A ``respond`` that sends a PNG header, then one byte every ``interval`` seconds (until the server stops)."""

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: " + str(declared).encode()
                     + b"\r\n\r\n\x89PNG\r\n\x1a\n")
        while not stop.wait(interval):
            conn.sendall(b"\x00")

    return respond

