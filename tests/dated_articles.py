"""Generated article folders with dates, in the seed's format, with planted topics that rise and fall."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

GROUPS = {
    "economy": "bank market inflation price investor shares profit economy trade budget",
    "sport": "football match goal player coach league season team stadium cup",
    "space": "rocket orbit satellite astronaut launch mission planet moon telescope station",
}


def write_dated_articles(folder: Path, n: int = 120, undated_every: int = 10, seed: int = 0) -> Path:
    """``n`` articles, one every three days from 2020-01-01: economy fades, space rises, sport stays.

    Every ``undated_every``-th article has an empty date line (0: all are dated).
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    start = dt.date(2020, 1, 1)
    for i in range(n):
        day = start + dt.timedelta(days=3 * i)
        weights = [1 - i / n, 0.5, i / n]
        group = rng.choices(list(GROUPS), weights=weights)[0]
        words = GROUPS[group].split()
        body = " ".join(rng.choice(words) for _ in range(60))
        undated = undated_every and i % undated_every == undated_every - 1
        date = "" if undated else f"{day:%B} {day.day}, {day.year}"
        (folder / f"{i:03d}_{group}.txt").write_text(
            f"# {group.title()} story {i}\n\n{date}\n\n{body}.\n\nOriginal url:\n\n<https://example.org/{group}/{i}>\n",
            encoding="utf-8",
        )
    return folder
