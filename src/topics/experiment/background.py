"""A call repeated in a background thread while a block runs: the running runs' progress is read
this way, and a search trial's heartbeat is recorded this way."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def periodically(seconds: float, call: Callable[[threading.Event], bool | None], name: str) -> Iterator[None]:
    """Run ``call(stopped)`` every ``seconds`` in a daemon thread until the block ends or ``call``
    returns False. ``stopped`` is set when the block ends, so a call in progress can tell that its
    result is no longer wanted; the block's end waits for that call to finish."""
    stopped = threading.Event()

    def repeat() -> None:
        while not stopped.wait(seconds):
            if call(stopped) is False:
                return

    thread = threading.Thread(target=repeat, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()
