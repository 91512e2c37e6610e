"""Run folders: built in a temporary folder, renamed into place when complete, never half-written.

A run folder holds ``config.toml``, ``manifest.json``, ``model/`` (the engine's model and the
pickle-free ``TopicModel`` record), ``topics.csv``, ``doc_topics.csv``, ``log.txt`` and, once
evaluated, ``metrics.json`` and ``topic_metrics.csv``. The manifest records versions,
fingerprints, times and the SHA-256 of every file at creation; the model (pickled or ``.npy``) and
``topics.csv`` are read only when they match those hashes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tomli_w

from topics._files import drop_none, peak_rss_mb, replace_folder, work_dir_beside
from topics.config import TrainConfig
from topics.errors import RunError
from topics.evaluation import Evaluation
from topics.preprocessing import PreparedCorpus
from topics.runs.capture import capture_log
from topics.runs.folder import (
    MANIFEST,
    manifest_header,
    read_manifest,
    run_config_hash,
    verify_files,
    write_manifest,
    write_run_outputs,
)
from topics.training import TopicModel, TrainedModel, load_native, train_lda

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

TOP_WORDS_SAVED = 20


def topics_table(model: TopicModel, n: int = TOP_WORDS_SAVED) -> str:
    """CSV text: topic, rank, word, weight (the top ``n`` words by probability)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["topic", "rank", "word", "weight"])
    for topic, ids in enumerate(model.top_word_ids(n)):
        for rank, word_id in enumerate(ids, start=1):
            writer.writerow(
                [
                    topic,
                    rank,
                    model.vocabulary[word_id],
                    f"{model.topic_word[topic, word_id]:.8g}",
                ]
            )
    return out.getvalue()


def write_doc_topics(path: Path, model: TopicModel) -> None:
    """``doc_topics.csv``: id, then one column per topic; streamed, row by row, so that a million
    documents never become one string (half a gigabyte at K = 50), from the rows read a block at
    a time (``TopicModel.doc_topic_blocks``: a memory-mapped D x K is never resident whole)."""
    doc_ids = iter(model.doc_ids)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", *(f"topic_{k}" for k in range(model.num_topics))])
        for block in model.doc_topic_blocks():
            # the block first: zip stops at the shorter without drawing one more id
            for row, doc_id in zip(block.tolist(), doc_ids):
                writer.writerow([doc_id, *(f"{value:.6g}" for value in row)])


def build_run(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int,
    workdir: Path,
    *,
    run_id: str,
    corpus_ref: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Train and write a complete run into ``workdir`` (an empty, private folder); returns the manifest.

    ``corpus_ref`` is how the run names its prepared corpus (a path relative to the run folder
    or absolute); it defaults to the prepared corpus's absolute path. ``progress(done, total)``
    hears the training passes (see ``train_lda``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    wall, cpu = time.perf_counter(), time.process_time()
    with capture_log(workdir / "log.txt"):
        log.info(
            "run %s: training %s on %s (seed %d)",
            run_id,
            config.engine,
            prepared.path,
            seed,
        )
        # the document-topic rows go straight into the run's model folder as they are inferred
        (workdir / "model").mkdir(exist_ok=True)
        trained = train_lda(prepared, config, seed, progress=progress, doc_topics_file=workdir / "model" / "doc_topics.npy")
        log.info("run %s: trained in %.1f s", run_id, trained.wall_seconds)
    write_trained(workdir, trained)
    config_hash = run_config_hash(prepared.fingerprint, config, seed)
    run_config = {
        "run": {"id": run_id, "seed": seed, "config_hash": config_hash},
        "corpus": {
            "path": corpus_ref or str(Path(prepared.path).resolve()),
            "fingerprint": prepared.fingerprint,
        },
        "model": config.model_dump(mode="json"),
        "engine_parameters": {k: v for k, v in trained.parameters.items() if isinstance(v, (int, float, str, bool))},
    }
    (workdir / "config.toml").write_text(tomli_w.dumps(drop_none(run_config)), encoding="utf-8")
    manifest = {
        **manifest_header(
            run_id,
            config_hash,
            prepared.fingerprint,
            "complete",
            started,
            time.perf_counter() - wall,
        ),
        "engine": trained.engine,
        "reproducible": trained.reproducible,
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "train_wall_seconds": round(trained.wall_seconds, 3),
        "train_cpu_seconds": round(trained.cpu_seconds, 3),
        "peak_memory_mb": peak_rss_mb(),
    }
    write_manifest(workdir, manifest)
    return manifest


def write_trained(workdir: Path, trained: TrainedModel) -> None:
    """The model folder and the topic tables of a trained model."""
    model_dir = workdir / "model"
    trained.save_native(model_dir)
    trained.model.save(model_dir)
    (workdir / "topics.csv").write_text(topics_table(trained.model), encoding="utf-8")
    write_doc_topics(workdir / "doc_topics.csv", trained.model)


def create_run(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int,
    run_dir: Path,
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Run:
    """Train one model and write its run folder, built beside ``run_dir`` and swapped in when complete.

    Parameters
    ----------
    prepared : PreparedCorpus
        From ``topics.preprocess`` or ``topics.PreparedCorpus.load``.
    config : TrainConfig
        Engine and settings.
    seed : int
        Training seed; the same seed gives the same topics.
    run_dir : path
        The run folder to write; an existing run there is replaced only with ``force``.
    progress : callable, optional
        ``progress(done, total)`` as training passes finish (see ``train_lda``).

    Returns
    -------
    Run

    Examples
    --------
    >>> run = topics.create_run(prepared, topics.TrainConfig(num_topics=10), seed=0, run_dir="runs/k10")  # doctest: +SKIP
    >>> run.topics.head()  # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    if run_dir.exists():
        if (run_dir / MANIFEST).is_file():
            if not force:
                raise RunError(f"{run_dir}: a run already exists here; choose another run folder, or set `force` to replace it")
        elif not run_dir.is_dir() or any(run_dir.iterdir()):
            raise RunError(f"{run_dir}: exists and is not a run folder; choose another run folder (`force` replaces only runs)")
    try:
        workdir = work_dir_beside(run_dir.resolve())
    except OSError as error:
        raise RunError(
            f"{run_dir.parent}: cannot write the run folder ({error.strerror}); choose a writable run folder"
        ) from None
    try:
        corpus_ref = os.path.relpath(Path(prepared.path).resolve(), run_dir.resolve())
        build_run(prepared, config, seed, workdir, run_id=run_dir.name, corpus_ref=corpus_ref, progress=progress)
        replace_folder(workdir, run_dir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return load_run(run_dir)


@dataclass
class Run:
    """A complete run folder, read lazily. Tables come as pandas DataFrames."""

    path: Path
    manifest: dict[str, Any] = field(repr=False)

    @cached_property
    def run_config(self) -> dict[str, Any]:
        import tomllib

        return tomllib.loads((self.path / "config.toml").read_text(encoding="utf-8"))

    @property
    def id(self) -> str:
        return self.manifest["run_id"]

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.model_validate(self.run_config["model"])

    @property
    def seed(self) -> int:
        return int(self.run_config["run"]["seed"])

    @property
    def engine(self) -> str:
        return str(self.manifest.get("engine", "gensim"))

    @cached_property
    def model(self) -> TopicModel:
        """The pickle-free ``TopicModel``, loaded only after its files match the creation hashes."""
        self.verify(self._created("model/"))
        try:
            return TopicModel.load(self.path / "model")
        except (OSError, ValueError, EOFError) as error:  # e.g. a .npy truncated before the run was recorded
            raise RunError(f"{self.path / 'model'}: cannot be read ({error}); retrain the run") from None

    def _created(self, prefix: str) -> list[str]:
        """The files under ``prefix`` written when the run was created; a RunError when none was recorded."""
        names = [name for name in self.manifest.get("files", {}) if name.startswith(prefix)]
        if not names:
            raise RunError(f"{self.path / prefix}: not recorded in the run's manifest; retrain the run")
        return names

    @cached_property
    def prepared(self) -> PreparedCorpus:
        """The prepared corpus the run was trained on; its fingerprint must match."""
        recorded = Path(self.run_config["corpus"]["path"])
        path = recorded if recorded.is_absolute() else (self.path / recorded)
        if not path.exists():
            raise RunError(f"{self.path}: its prepared corpus {path} is missing; preprocess it again or move it back")
        prepared = PreparedCorpus.load(path)
        if prepared.fingerprint != self.manifest["corpus_fingerprint"]:
            raise RunError(
                f"{self.path}: model and prepared corpus {path} do not belong together "
                f"(fingerprint {prepared.fingerprint[:12]} != {self.manifest['corpus_fingerprint'][:12]}); retrain the run"
            )
        return prepared

    @property
    def topics(self) -> pd.DataFrame:
        import pandas as pd

        self.verify(["topics.csv"])
        return pd.read_csv(self.path / "topics.csv", keep_default_na=False)

    @property
    def doc_topics(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_csv(self.path / "doc_topics.csv", dtype={"id": str}, keep_default_na=False).set_index("id")

    @property
    def topic_metrics(self) -> dict[str, np.ndarray]:
        """Per-topic scores from ``topic_metrics.csv`` (measure -> one value per topic); empty before evaluation."""
        path = self.path / "topic_metrics.csv"
        if not path.is_file():
            return {}
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        if len(rows) != self.model.num_topics:
            return {}
        measures = [key for key in rows[0] if key != "topic"] if rows else []
        return {m: np.array([float(row[m] or "nan") for row in rows]) for m in measures}

    @property
    def metrics(self) -> dict[str, Any]:
        path = self.path / "metrics.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def verify(self, names: list[str] | None = None) -> None:
        """Check the SHA-256 of the run's files (or of ``names``) against the manifest."""
        verify_files(self.path, self.manifest, names)

    def native_model(self) -> Any:
        """The engine's own model, loaded only after its files' hashes match the manifest (pickle runs code)."""
        self.verify(self._created("model/"))
        return load_native(self.engine, self.path / "model")


def load_run(path: str | Path) -> Run:
    """Open a complete run folder; an incomplete or foreign folder is a RunError."""
    run_dir = Path(path)
    manifest = read_manifest(run_dir)
    for name in ("config.toml", "topics.csv", "doc_topics.csv", "model"):
        if not (run_dir / name).exists():
            raise RunError(f"{run_dir}: incomplete run folder ({name} missing); train it again")
    return Run(path=run_dir, manifest=manifest)


def _relative_reference(run_dir: Path, settings: Any) -> Any:
    """A measure's settings with its reference corpus named relative to the run folder, so a results
    folder moved or shared elsewhere names no machine path."""
    reference = settings.get("reference") if isinstance(settings, dict) else None
    if not isinstance(reference, dict) or not reference.get("path"):
        return settings
    path = Path(reference["path"])
    if path.is_absolute():
        path = Path(os.path.relpath(path, Path(run_dir).resolve()))
    return {**settings, "reference": {**reference, "path": path.as_posix()}}


def write_evaluation(run: Run, evaluation: Evaluation) -> None:
    """Merge ``evaluation`` into the run's ``metrics.json`` and ``topic_metrics.csv``, replacing earlier
    values of the same measures, and keep the manifest's hashes current."""
    metrics = run.metrics
    settings = metrics.pop("settings", {})
    metrics.update(evaluation.metrics)
    settings.update({measure: _relative_reference(run.path, value) for measure, value in evaluation.settings.items()})
    metrics["settings"] = settings

    num_topics = run.model.num_topics
    # earlier measures as recorded (run.topic_metrics: one value per topic), then this evaluation's
    topic_columns = {measure: [repr(float(v)) for v in values] for measure, values in run.topic_metrics.items()}
    for measure, values in evaluation.topic_metrics.items():
        topic_columns[measure] = [repr(float(v)) for v in values]
    topic_columns = {k: v for k, v in topic_columns.items() if len(v) == num_topics}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["topic", *topic_columns])
    for k in range(num_topics):
        writer.writerow([k, *(column[k] for column in topic_columns.values())])
    write_run_outputs(
        run.path,
        {
            "metrics.json": json.dumps(metrics, indent=2, sort_keys=True) + "\n",
            "topic_metrics.csv": out.getvalue(),
        },
    )
