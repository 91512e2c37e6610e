"""Counting a reference corpus on a Dask cluster: blocks out to the workers, counts back, merged here.

The client reads the reference one block of whole documents at a time (as ``count_reference``
does) and sends each block's token ids and document lengths to a worker with the ``CountPlan``
(the counted words, windows and topic word sets: sized by the topics, not the reference). The
worker counts the block on its own and returns its integer counts; the client adds them up in block
order. Integer sums do not depend on where a block was counted, so the counts, and every score
computed from them, are identical (==) to the local path's. Workers need no shared filesystem:
the blocks travel inside the tasks, so a task whose worker dies is run again elsewhere (Dask's
``distributed.scheduler.allowed-failures``, 3 by default); past that, the step fails with the
worker's error. At most ``IN_FLIGHT_PER_WORKER`` blocks per worker are out at once, so the client's
memory holds a few blocks and the merged counts, never the reference.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from topics._cluster import dask_client as dask_client  # where scoring opens its client
from topics.errors import RunError
from topics.evaluation.counting import (
    DEFAULT_BLOCK_TOKENS,
    ReferenceCorpus,
    ReferenceCounts,
    count_block,
    document_total,
    plan_counts,
    reference_blocks,
)

log = logging.getLogger(__name__)

#: blocks sent to each worker ahead of the merge: enough to keep it busy, few enough to bound memory
IN_FLIGHT_PER_WORKER = 2


def count_reference_dask(
    reference: ReferenceCorpus,
    words: Iterable[str],
    windows: Iterable[int] = (),
    counting: str = "gensim",
    *,
    word_sets: Iterable[Iterable[str]] | None = None,
    block_tokens: int = DEFAULT_BLOCK_TOKENS,
    client: Any,
    progress: Callable[[int, int | None], None] | None = None,
) -> ReferenceCounts:
    """``count_reference`` with each block counted on a worker of ``client`` (a ``dask.distributed.Client``).

    Same arguments, same checks and identical counts; ``progress`` is called as each block's counts
    are merged. A block whose task fails (the worker raised,
    or died more often than Dask retries) raises ``RunError`` with the worker's error; the blocks
    still out are cancelled.
    """
    plan = plan_counts(reference, words, windows, counting, word_sets=word_sets, block_tokens=block_tokens)
    tally = plan.tally()
    total = document_total(reference)
    limit = IN_FLIGHT_PER_WORKER * max(1, len(client.scheduler_info().get("workers", {})))
    pending: deque[tuple[int, Any]] = deque()

    def merge_oldest() -> None:
        index, future = pending.popleft()
        try:
            block = future.result()
        except BaseException as error:
            client.cancel([f for _, f in pending])
            pending.clear()
            if not isinstance(error, Exception):
                raise  # Ctrl-C and the like, as they are
            log.debug("block %d failed on its worker", index, exc_info=True)
            raise RunError(
                f"reference block {index} ({block_tokens} tokens a block) could not be counted on the Dask "
                f"cluster: {type(error).__name__}: {error}"
            ) from error
        tally.merge(block)
        if progress is not None:
            progress(tally.num_docs, total)

    try:
        for index, (ids, lengths) in enumerate(reference_blocks(reference, block_tokens)):
            pending.append((index, client.submit(count_block, plan, ids, lengths, pure=False)))
            if len(pending) >= limit:
                merge_oldest()
        while pending:
            merge_oldest()
    except BaseException:
        client.cancel([f for _, f in pending])
        raise
    return plan.counts(tally, reference.vocabulary)
