"""The background repeater behind the runs' progress reader and the search trials' heartbeat."""

import threading
import time

from topics.experiment.background import periodically


def test_periodically_repeats_and_the_block_waits_for_the_call_in_progress():
    seen: list[bool] = []
    inside = threading.Event()

    def call(stopped: threading.Event) -> None:
        if len(seen) == 2:  # the third call is still running when the block ends
            inside.set()
            stopped.wait(5)
        seen.append(stopped.is_set())

    with periodically(0.001, call, "test-repeat"):
        assert inside.wait(5)
    assert seen == [False, False, True]  # the block's end waited for the third call, and no fourth came
    time.sleep(0.05)
    assert len(seen) == 3


def test_periodically_stops_when_the_call_returns_false():
    calls = []

    def call(stopped: threading.Event) -> bool:
        calls.append(1)
        return len(calls) < 3

    with periodically(0.001, call, "test-stop"):
        time.sleep(0.2)
    assert len(calls) == 3
