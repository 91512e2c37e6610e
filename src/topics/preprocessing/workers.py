"""The process pool of ``topics.preprocess``: ``Workers`` runs each ``Shard`` in a worker process (in
this process when there is one) and returns their results in order, with at most two messages
waiting per worker."""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
from collections import deque
from typing import TYPE_CHECKING, Any, Self

from topics.errors import RunError

if TYPE_CHECKING:
    from topics.preprocessing.shards import Shard


def _serve(shard: Shard, inbox, outbox) -> None:
    try:
        while (message := inbox.get()) is not None:
            method, args = message
            outbox.put(("ok", getattr(shard, method)(*args)))
    except BaseException as error:
        outbox.put(("error", error))
        while inbox.get() is not None:  # keep the main process from blocking on a full inbox
            pass


class Workers:
    """``send(i, method, *args)`` runs ``shards[i].method(*args)`` in worker process i (in this
    process when there is one shard); ``receive(i)`` returns shard i's results in order. At most
    two messages wait per worker (bounded memory, unlike ``Pool.imap``).

    The shards compare phrase counts by ``hash(str)``, so their processes must share one hash
    seed: forked processes inherit it; spawned ones (where fork is missing, or ``start_method``
    says so) are given one through ``PYTHONHASHSEED``."""

    #: the shards' scratch files are readable from this process (``topics.preprocessing.cluster``'s are not)
    shares_files = True

    def __init__(self, shards: list[Shard], start_method: str | None = None):
        self.shards = shards
        self.count = len(shards)
        self.start_method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self._local: list[deque] = [deque() for _ in shards]
        self._processes: list = []

    def __enter__(self) -> Self:
        if self.count > 1:
            context = multiprocessing.get_context(self.start_method)
            self._inboxes = [context.Queue(maxsize=2) for _ in self.shards]
            self._outboxes = [context.Queue() for _ in self.shards]
            self._processes = [
                # typeshed's BaseContext (get_context of a str) lacks Process; every real context has it
                context.Process(  # type: ignore[attr-defined]
                    target=_serve, args=(shard, inbox, outbox), daemon=True
                )
                for shard, inbox, outbox in zip(self.shards, self._inboxes, self._outboxes, strict=True)
            ]
            seed = os.environ.get("PYTHONHASHSEED")
            if self.start_method != "fork":
                os.environ["PYTHONHASHSEED"] = str(random.randrange(1, 2**32))
            try:
                for process in self._processes:
                    process.start()
            finally:
                if seed is None:
                    os.environ.pop("PYTHONHASHSEED", None)
                else:
                    os.environ["PYTHONHASHSEED"] = seed
        return self

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is None:
            for inbox in getattr(self, "_inboxes", []):
                inbox.put(None)
            for process in self._processes:
                process.join()
            return
        for process in self._processes:
            if process.is_alive():
                process.terminate()
                process.join()
        # Messages may be left unread by workers that are gone: do not let this process's exit
        # wait for the queues' feeder threads to deliver them (it would wait forever).
        for box in (*getattr(self, "_inboxes", []), *getattr(self, "_outboxes", [])):
            box.cancel_join_thread()

    def send(self, index: int, method: str, *args) -> None:
        if not self._processes:
            self._local[index].append(getattr(self.shards[index], method)(*args))
            return
        while True:
            try:
                return self._inboxes[index].put((method, args), timeout=1.0)
            except queue.Full:
                self._check_alive(index)

    def receive(self, index: int) -> Any:
        if not self._processes:
            return self._local[index].popleft()
        while True:
            try:
                kind, value = self._outboxes[index].get(timeout=1.0)
            except queue.Empty:
                self._check_alive(index)
                continue
            if kind == "error":
                raise value
            return value

    def all(self, method: str, *args) -> list:
        for index in range(self.count):
            self.send(index, method, *args)
        return [self.receive(index) for index in range(self.count)]

    def _check_alive(self, index: int) -> None:
        process = self._processes[index]
        if not process.is_alive():
            raise RunError(
                f"preprocessing worker {process.pid} died (exit code {process.exitcode}; a negative code is the "
                "signal that ended it, e.g. -9 when out of memory): rerun the step, with fewer processes if memory ran out"
            )
