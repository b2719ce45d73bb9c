"""Loopback HTTP stub servers for tests, with a shutdown that returns at once.

``socketserver``'s ``serve_forever`` checks for a shutdown request only between ``select`` calls of ``poll_interval``
(0.5 s by default), so ``shutdown()`` on an idle server waits up to half a second: paid once by every test that uses
a stub. Serving with a 10 ms poll makes ``shutdown()`` return in a few milliseconds, at the cost of an idle wake-up
every 10 ms while the stub lives.
"""

from __future__ import annotations

import socketserver
import threading

POLL_S = 0.01


def serve_in_thread(server: socketserver.BaseServer) -> threading.Thread:
    """Run ``server.serve_forever`` in a started daemon thread; ``server.shutdown()`` then returns within ~10 ms."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True)
    thread.start()
    return thread


def stop(server: socketserver.BaseServer, thread: threading.Thread | None = None) -> None:
    """Stop serving, close the listening socket and, given the serving thread, wait for it to end."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)
