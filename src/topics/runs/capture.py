"""Capturing gensim's and topics' log records into a run's ``log.txt`` while it trains, without
flooding the terminal with what the loggers did not let through before."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path


class _PassOn(logging.Handler):
    """Hands a record to the root logger's handlers: what a captured logger let through before."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger().handle(record)


@contextlib.contextmanager
def capture_log(path: Path) -> Iterator[None]:
    """Send gensim's and our log records to ``path`` while training.

    The loggers are lowered to INFO for the file; what reaches the root logger's handlers (the
    terminal, a log the user redirects) stays what the loggers' levels let through before, so
    capturing does not flood standard error with gensim's INFO records.
    """
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    loggers = [logging.getLogger("gensim"), logging.getLogger("topics")]
    saved = [(lg.level, lg.propagate, lg.getEffectiveLevel()) for lg in loggers]
    passers = []
    for lg, (_, propagate, effective) in zip(loggers, saved):
        lg.addHandler(handler)
        passer = _PassOn(effective)
        passers.append(passer)
        if propagate:
            lg.addHandler(passer)
            lg.propagate = False
        if lg.level == logging.NOTSET or lg.level > logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, (level, propagate, _), passer in zip(loggers, saved, passers):
            lg.removeHandler(handler)
            lg.removeHandler(passer)
            lg.propagate = propagate
            lg.setLevel(level)
        handler.close()
