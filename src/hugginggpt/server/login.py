"""Rate limit of ``POST /login``: wrong keys per client address in a sliding minute."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque


class LoginLimiter:
    """Counts wrong keys per client address; past ``max_failures`` in ``window`` seconds, that address waits.

    Memory is bounded: at most ``max_clients`` addresses are tracked, the least recently seen dropped first.
    """

    def __init__(self, max_failures: int = 10, window: float = 60.0, max_clients: int = 10_000) -> None:
        self.max_failures, self.window, self.max_clients = max_failures, window, max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds ``client`` must wait before its next try (0: it may try now)."""
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(client)
            if times is None:
                return 0
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[0] + self.window - now))

    def failed(self, client: str) -> None:
        with self._lock:
            times = self._failures.pop(client, None) or deque(maxlen=self.max_failures)
            times.append(time.monotonic())
            self._failures[client] = times
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
