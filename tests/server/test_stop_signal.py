"""Ctrl-C of `models-server --ray-serve`: the first signal asks for a clean shutdown, a second one interrupts."""

from __future__ import annotations

import os
import signal

import pytest

from hugginggpt.server.serve_app import _StopSignal


def test_first_signal_stops_the_wait_and_a_second_interrupts() -> None:
    stop = _StopSignal()
    previous = stop.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)  # handled in the main thread: no KeyboardInterrupt, the flag is set
        stop.wait()  # returns at once
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert signal.getsignal(signal.SIGINT) is previous[signal.SIGINT]
