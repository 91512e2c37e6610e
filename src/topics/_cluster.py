"""The connection to a Dask cluster that the Dask executors share: a running scheduler at an
address, or a LocalCluster started for one step."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from topics.errors import ConfigError

#: how long to wait for a scheduler to answer before saying it cannot be reached (seconds)
CONNECT_SECONDS = 10.0
#: the string hash seed of the worker processes of a LocalCluster started here (any fixed value):
#: preprocessing's shards compare words by ``hash(str)`` across workers
LOCAL_HASH_SEED = "6640"


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None = None) -> Iterator[Any]:
    """A client of the Dask scheduler at ``scheduler``, or of a new LocalCluster of ``workers``
    single-threaded worker processes (default: one per core), all with one string hash seed. A
    scheduler that does not answer within ``CONNECT_SECONDS`` is a ``ConfigError`` naming its address."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_SECONDS}s")
        except (OSError, TimeoutError, ValueError) as error:
            raise ConfigError(
                f"`scheduler` {scheduler}: no Dask scheduler answered there within {CONNECT_SECONDS:g} s "
                f"({type(error).__name__}: {error}); start one (`dask scheduler`) or leave out `scheduler` "
                "to start a LocalCluster"
            ) from None
        with client:
            yield client
        return
    # the nannies set it before starting their worker processes (recent versions of distributed
    # do so by default; said here so that it holds whatever the version or configuration)
    seed = {"distributed.nanny.pre-spawn-environ.PYTHONHASHSEED": LOCAL_HASH_SEED}
    with (
        dask.config.set(seed),
        _quiet_scheduler(),
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def _quiet_scheduler() -> Iterator[None]:
    """The in-process scheduler of a LocalCluster logs its own shutdown at INFO ("Lost all
    workers"), after the cluster has restored its log levels: not news to a user whose step ended."""
    scheduler_log = logging.getLogger("distributed.scheduler")
    level = scheduler_log.level
    scheduler_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        scheduler_log.setLevel(level)
