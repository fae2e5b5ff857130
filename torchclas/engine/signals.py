"""Graceful stops: SIGTERM or Ctrl-C finish the current step, commit a checkpoint and exit 0."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

from .state import TrainState

__all__ = ["stop_on_signals", "TrainingStopped"]

log = logging.getLogger("torchclas")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(Exception):
    """Raised inside the run once a stop signal's checkpoint is committed; ``train`` returns."""


@contextmanager
def stop_on_signals(state: TrainState) -> Iterator[None]:
    """While the block runs, SIGTERM/SIGINT set ``state.stop_signal`` instead of killing the
    process; the loop stops after its current optimizer step. A second Ctrl-C aborts at once.

    Only the main thread can own signal handlers: elsewhere (a run inside a thread) the block
    runs without them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame) -> None:
        name = signal.Signals(signum).name
        if state.stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        state.stop_signal = name
        log.warning("%s received: finishing this step, saving a checkpoint, then stopping "
                    "(Ctrl-C again aborts without saving)", name)

    previous = {sig: signal.signal(sig, request_stop) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
