"""Run folders: built in a temporary folder, renamed into place when complete, never half-written.

A run folder holds ``config.toml``, ``manifest.json``, ``model/`` (the engine's model and the
pickle-free ``TopicModel`` record), ``topics.csv``, ``doc_topics.csv``, ``log.txt`` and, once
evaluated, ``metrics.json`` and ``topic_metrics.csv``. The manifest records versions,
fingerprints, times and the SHA-256 of every file; a pickled model is loaded only when its
hashes match.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from .config import TrainConfig, sha256_json
from .errors import RunError
from .model import TopicModel

if TYPE_CHECKING:
    import pandas as pd

    from .preprocess import PreparedCorpus
    from .train import TrainedModel

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
TOP_WORDS_SAVED = 20
KEY_PACKAGES = ("gensim", "scikit-learn", "numpy", "scipy", "pandas", "simplemma", "pydantic", "joblib", "dask", "tomotopy")


def package_versions() -> dict[str, str]:
    """Versions of Python and every key package that is installed."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version(), "topics": _own_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("topics")
    except PackageNotFoundError:
        return "unknown"


def git_commit() -> str | None:
    """The project's git commit, when the package runs from a checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_config_hash(corpus_fingerprint: str, config: TrainConfig, seed: int) -> str:
    """Hash of everything that determines a run's result: corpus, model settings, seed."""
    return sha256_json({"corpus": corpus_fingerprint, "model": config.model_dump(mode="json"), "seed": seed})


def _toml_safe(data: dict[str, Any]) -> dict[str, Any]:
    """TOML has no null: drop None values (they mean 'default', which the resolved values record)."""
    return {k: _toml_safe(v) if isinstance(v, dict) else v for k, v in data.items() if v is not None}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def manifest_header(run_id: str, config_hash: str, corpus_fingerprint: str, status: str, started: dt.datetime, wall_seconds: float) -> dict[str, Any]:
    """What every manifest records, complete or failed: identity, versions, platform, times."""
    return {
        "run_id": run_id,
        "config_hash": config_hash,
        "corpus_fingerprint": corpus_fingerprint,
        "status": status,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "started": started.isoformat(timespec="seconds"),
        "ended": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 3),
    }


@contextlib.contextmanager
def _capture_log(path: Path) -> Iterator[None]:
    """Send gensim's and our log records to ``path`` while training."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    loggers = [logging.getLogger("gensim"), logging.getLogger("topics")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.level == logging.NOTSET or lg.level > logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()


def topics_table(model: TopicModel, n: int = TOP_WORDS_SAVED) -> str:
    """CSV text: topic, rank, word, weight (the top ``n`` words by probability)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["topic", "rank", "word", "weight"])
    for topic, ids in enumerate(model.top_word_ids(n)):
        for rank, word_id in enumerate(ids, start=1):
            writer.writerow([topic, rank, model.vocabulary[word_id], f"{model.topic_word[topic, word_id]:.8g}"])
    return out.getvalue()


def doc_topics_table(model: TopicModel) -> str:
    """CSV text: id, then one column per topic."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", *(f"topic_{k}" for k in range(model.num_topics))])
    for doc_id, row in zip(model.doc_ids, model.doc_topics):
        writer.writerow([doc_id, *(f"{value:.6g}" for value in row)])
    return out.getvalue()


def build_run(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int,
    workdir: Path,
    *,
    run_id: str,
    corpus_ref: str | None = None,
) -> dict[str, Any]:
    """Train and write a complete run into ``workdir`` (an empty, private folder); returns the manifest.

    ``corpus_ref`` is how the run names its prepared corpus (a path relative to the run folder
    or absolute); it defaults to the prepared corpus's absolute path.
    """
    from .train import train_model

    workdir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    wall, cpu = time.perf_counter(), time.process_time()
    with _capture_log(workdir / "log.txt"):
        log.info("run %s: training %s on %s (seed %d)", run_id, config.engine, prepared.path, seed)
        trained = train_model(prepared, config, seed)
        log.info("run %s: trained in %.1f s", run_id, trained.wall_seconds)
    write_trained(workdir, trained)
    config_hash = run_config_hash(prepared.fingerprint, config, seed)
    run_config = {
        "run": {"id": run_id, "seed": seed, "config_hash": config_hash},
        "corpus": {"path": corpus_ref or str(Path(prepared.path).resolve()), "fingerprint": prepared.fingerprint},
        "model": config.model_dump(mode="json"),
        "engine_parameters": {k: v for k, v in trained.parameters.items() if isinstance(v, (int, float, str, bool))},
    }
    (workdir / "config.toml").write_text(tomli_w.dumps(_toml_safe(run_config)), encoding="utf-8")
    manifest = {
        **manifest_header(run_id, config_hash, prepared.fingerprint, "complete", started, time.perf_counter() - wall),
        "engine": trained.engine,
        "reproducible": trained.reproducible,
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "train_wall_seconds": round(trained.wall_seconds, 3),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    write_manifest(workdir, manifest)
    return manifest


def write_trained(workdir: Path, trained: TrainedModel) -> None:
    """The model folder and the topic tables of a trained model."""
    model_dir = workdir / "model"
    trained.save_native(model_dir)
    trained.model.save(model_dir)
    (workdir / "topics.csv").write_text(topics_table(trained.model), encoding="utf-8")
    (workdir / "doc_topics.csv").write_text(doc_topics_table(trained.model), encoding="utf-8")


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Record the SHA-256 of every file in ``run_dir`` (but the manifest) and write the manifest."""
    manifest = dict(manifest)
    manifest["files"] = {
        path.relative_to(run_dir).as_posix(): sha256_file(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
    atomic_write_text(run_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def create_run(
    prepared: PreparedCorpus,
    config: TrainConfig,
    seed: int,
    run_dir: Path,
    *,
    force: bool = False,
) -> Run:
    """Train into a temporary sibling of ``run_dir`` and rename it into place when complete."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not force:
        if (run_dir / MANIFEST).is_file():
            raise RunError(f"{run_dir}: a run already exists here; choose another --out or pass --force")
        if any(run_dir.iterdir()):
            raise RunError(f"{run_dir}: folder is not empty and is not a run; choose another --out")
    parent = run_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f".tmp-{run_dir.name}-", dir=parent))
    except OSError as error:
        raise RunError(f"{parent}: cannot write the run folder ({error.strerror}); choose a writable --out") from None
    try:
        corpus_ref = os.path.relpath(Path(prepared.path).resolve(), run_dir.resolve())
        build_run(prepared, config, seed, workdir, run_id=run_dir.name, corpus_ref=corpus_ref)
        if run_dir.exists():
            shutil.rmtree(run_dir)
        os.replace(workdir, run_dir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return load_run(run_dir)


def replace_files(run_dir: Path, files: dict[str, str]) -> None:
    """Atomically replace text files of a complete run and update its manifest's hashes."""
    manifest = read_manifest(run_dir)
    for name, text in files.items():
        atomic_write_text(run_dir / name, text)
    write_manifest(run_dir, {k: v for k, v in manifest.items() if k != "files"})


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    if not Path(run_dir).is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    if not path.is_file():
        raise RunError(f"{run_dir}: not a complete run (no {MANIFEST}); train it again")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RunError(f"{path}: not valid JSON ({error}); train the run again") from None
    if manifest.get("status") != "complete":
        raise RunError(f"{run_dir}: run status is {manifest.get('status')!r}, not complete; train it again")
    return manifest


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

    @cached_property
    def model(self) -> TopicModel:
        return TopicModel.load(self.path / "model")

    @cached_property
    def prepared(self) -> PreparedCorpus:
        """The prepared corpus the run was trained on; its fingerprint must match."""
        from .preprocess import PreparedCorpus

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

        return pd.read_csv(self.path / "topics.csv", keep_default_na=False)

    @property
    def doc_topics(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_csv(self.path / "doc_topics.csv", dtype={"id": str}, keep_default_na=False).set_index("id")

    @property
    def metrics(self) -> dict[str, Any]:
        path = self.path / "metrics.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def verify(self, names: list[str] | None = None) -> None:
        """Check the SHA-256 of the run's files (or of ``names``) against the manifest."""
        recorded = self.manifest.get("files", {})
        for name in names or list(recorded):
            path = self.path / name
            if name not in recorded or not path.is_file() or sha256_file(path) != recorded[name]:
                raise RunError(f"{path}: does not match the run's manifest; it was changed after training, retrain the run")

    def native_model(self) -> Any:
        """The engine's own model, loaded only after its files' hashes match the manifest (pickle runs code)."""
        model_files = [name for name in self.manifest.get("files", {}) if name.startswith("model/")]
        self.verify(model_files)
        from .train import NATIVE_LOADERS

        engine = self.manifest.get("engine", "gensim")
        if engine not in NATIVE_LOADERS:
            raise RunError(f"{self.path}: loading {engine} models is not supported by this version of topics")
        return NATIVE_LOADERS[engine](self.path / "model")

    def trends(self, period: str = "month"):
        """Topic prevalence per week, month or year (``topics.trends.topic_trends``)."""
        from .trends import topic_trends

        return topic_trends(self, period)

    def representative_documents(self, topic: int, n: int = 5) -> pd.DataFrame:
        """The ``n`` documents with the highest share of ``topic`` (``topics.inference``)."""
        from .inference import representative_documents

        return representative_documents(self, topic, n)

    def infer(self, texts) -> pd.DataFrame:
        """Topic distributions of new texts through the run's own preprocessing (``topics.inference``)."""
        from .inference import infer_texts

        return infer_texts(self, texts)


def load_run(path: str | Path) -> Run:
    """Open a complete run folder; an incomplete or foreign folder is a RunError."""
    run_dir = Path(path)
    manifest = read_manifest(run_dir)
    for name in ("config.toml", "topics.csv", "doc_topics.csv", "model"):
        if not (run_dir / name).exists():
            raise RunError(f"{run_dir}: incomplete run folder ({name} missing); train it again")
    return Run(path=run_dir, manifest=manifest)
