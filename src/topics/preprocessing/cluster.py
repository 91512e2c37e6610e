"""``topics.preprocess`` on a Dask cluster: each ``Shard`` a Dask actor on a worker of its own.

``DaskWorkers`` has the interface of the local process pool (``topics.preprocessing.workers``), so
the passes (``topics.preprocessing.passes``) drive both alike: the client reads the documents and
sends chunk i to shard i mod n, and every later pass runs on the shards, over their scratch files.
Those files live in a private temporary folder on the shard's worker, so the workers need no
shared filesystem: what the local path reads from another shard's files (phrase-count parts, the
token ids and document lengths at the end) comes back through the client instead, as arrays. The
merge is the local path's, so the prepared corpus is byte-identical to it.

A shard holds state (its scratch files), so a call whose worker dies cannot be run again
elsewhere: the step fails with a ``RunError`` naming the shard and its worker, and ``preprocess``
removes the folder it was building.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import sys
import tempfile
import time
import weakref
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from topics._cluster import dask_client
from topics.errors import ConfigError, RunError, TopicsError
from topics.preprocessing.shards import Shard
from topics.preprocessing.tokenize import Pipeline

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

#: hashed by every shard at the start: the shards compare words across workers by ``hash(str)``
HASH_PROBE = "topics: one string hash seed on every worker"
#: how often a wait for a shard checks that its worker is still in the cluster (seconds)
POLL_SECONDS = 5.0
#: calls waiting or running per shard, as in the local pool: bounded memory on the worker
OUTSTANDING = 2


class ShardActor:
    """A ``Shard`` on a Dask worker, its scratch folder a private temporary folder of that worker
    (removed by ``close``, or when the actor is released; that of a killed worker goes with the
    worker's local directory, which Dask cleans up). Dask runs an actor's calls as they arrive and
    does not promise that two calls in flight arrive in the order sent; ``call`` runs them in the
    order the client numbered them, one at a time, in the shard's own thread."""

    def __init__(self, index: int, count: int, pipeline: Pipeline):
        from distributed import get_worker

        folder = Path(tempfile.mkdtemp(prefix=f"topics-shard-{index}-", dir=get_worker().local_directory))
        self.shard = Shard(index, count, folder, pipeline)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"topics-shard-{index}")
        self._removal = weakref.finalize(self, _remove, folder, self._thread)
        self._next = 0
        self._turn: asyncio.Condition | None = None  # made on the worker's event loop, at the first call

    async def call(self, number: int, method: str, args: tuple) -> Any:
        """``shard.method(*args)``, once the calls numbered before ``number`` have started."""
        import asyncio  # here: the local path imports this module, and needs no event loop

        if self._turn is None:
            self._turn = asyncio.Condition()
        async with self._turn:
            await self._turn.wait_for(lambda: self._next == number)
            running = asyncio.get_running_loop().run_in_executor(
                self._thread, functools.partial(getattr(self.shard, method), *args)
            )
            self._next += 1
            self._turn.notify_all()
        return await running

    def hash_probe(self) -> int:
        return hash(HASH_PROBE)

    def close(self) -> None:
        self._removal()


def _remove(folder: Path, thread: ThreadPoolExecutor) -> None:
    thread.shutdown(wait=True, cancel_futures=True)  # the running call ends before its files go
    shutil.rmtree(folder, ignore_errors=True)


class DaskWorkers:
    """``Workers`` (``topics.preprocessing.workers``) on a Dask cluster: ``send(i, method, *args)``
    runs ``shards[i].method(*args)`` on the worker at ``addresses[i]``; ``receive(i)`` returns
    shard i's results in order. At most ``OUTSTANDING`` calls wait or run per shard.

    On entering, each worker makes its shard and hashes ``HASH_PROBE``: workers that hash strings
    with different seeds would merge different words as one, so they are a ``ConfigError``."""

    #: the shards' scratch files are on their workers: the passes fetch what they need through the shards
    shares_files = False

    def __init__(self, client: Any, pipeline: Pipeline, addresses: list[str]):
        self.client, self.pipeline, self.addresses = client, pipeline, addresses
        self.count = len(addresses)
        self._futures: list[Any] = []  # the actors' futures: they keep the actors on their workers
        self._actors: list[Any] = []
        self._numbers = [0] * self.count
        self._pending: list[deque] = [deque() for _ in addresses]

    def __enter__(self) -> Self:
        try:
            self._futures = [
                self.client.submit(ShardActor, index, self.count, self.pipeline, actor=True, workers=[address], pure=False)
                for index, address in enumerate(self.addresses)
            ]
            self._actors = [self._result(index, future) for index, future in enumerate(self._futures)]
            probes = [self._result(index, actor.hash_probe()) for index, actor in enumerate(self._actors)]
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        if len(set(probes)) > 1:
            self.__exit__(None, None, None)
            groups = {probe: [a for a, p in zip(self.addresses, probes, strict=True) if p == probe] for probe in probes}
            raise ConfigError(
                "the Dask workers hash strings with different seeds ("
                + "; ".join(", ".join(group) for group in groups.values())
                + "), and preprocessing compares words across workers by their hash: start every worker with the same "
                "PYTHONHASHSEED (`PYTHONHASHSEED=1 dask worker --no-nanny ...`; the workers a nanny starts share one)"
            )
        return self

    def __exit__(self, *exc_info) -> None:
        closing = []
        for actor in self._actors:
            with contextlib.suppress(Exception):  # an actor whose worker is gone cannot be called
                closing.append(actor.close())
        for call in closing:
            with contextlib.suppress(Exception):
                call.result(timeout=POLL_SECONDS)
        self.client.cancel(self._futures)  # releases the actors (and their folders, if close could not)
        self._futures, self._actors = [], []

    def send(self, index: int, method: str, *args) -> None:
        pending = self._pending[index]
        while (running := [call for call in pending if not call.done()]) and len(running) >= OUTSTANDING:
            self._result(index, running[0])
        try:
            call = self._actors[index].call(self._numbers[index], method, args)
        except Exception as error:  # Dask knows the actor's worker is gone
            raise self._failure(index, error) from error
        pending.append(call)
        self._numbers[index] += 1

    def receive(self, index: int) -> Any:
        return self._result(index, self._pending[index].popleft())

    def all(self, method: str, *args) -> list:
        for index in range(self.count):
            self.send(index, method, *args)
        return [self.receive(index) for index in range(self.count)]

    def _result(self, index: int, future: Any) -> Any:
        """The result of a call to shard ``index`` (or of making it); checks every ``POLL_SECONDS``
        that its worker is still there, since a call to a vanished worker need not end."""
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except TopicsError:
                raise  # bad input the shard found, as the local path raises it
            except Exception as error:
                if isinstance(error, TimeoutError) and not future.done() and self.addresses[index] in self.client.nthreads():
                    continue
                raise self._failure(index, error) from error

    def _failure(self, index: int, error: Exception) -> RunError:
        address = self.addresses[index]
        log.debug("shard %d failed on %s", index, address, exc_info=error)
        for _ in range(10):  # a connection that broke: give the scheduler a moment to see the worker go
            if (gone := address not in self.client.nthreads()) or not isinstance(error, OSError):
                break
            time.sleep(0.2)
        return RunError(
            f"preprocessing shard {index} on the Dask worker {address} failed: {type(error).__name__}: {error}"
            + (
                "; the worker left the cluster, and a shard's files live on its worker, so its work "
                "cannot be run again elsewhere: rerun the step"
                if gone
                else ""
            )
        )


@contextlib.contextmanager
def dask_workers(pipeline: Pipeline, scheduler: str | None, processes: int | None) -> Iterator[DaskWorkers]:
    """``DaskWorkers`` with one shard on each worker of the Dask scheduler at ``scheduler`` (at
    most ``processes`` of them), or of a new LocalCluster of ``processes`` single-threaded worker
    processes (default: one per core)."""
    with dask_client(scheduler, processes) as client:
        addresses = sorted(client.nthreads())[:processes]
        if not addresses:
            raise ConfigError(
                f"`scheduler` {scheduler}: the Dask scheduler has no workers; start some (`dask worker {scheduler}`)"
            )
        log.info("preprocessing on %d Dask worker(s)", len(addresses))
        with DaskWorkers(client, pipeline, addresses) as workers:
            yield workers
