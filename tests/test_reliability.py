"""The bad inputs and faults of issue 13, one test per case: each ends ingested, skipped with a reason,
or refused with one clear message (exit 2), and no file in a results folder can make the package run code."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import invoke, lee_experiment, runner
from topics.cli import app
from topics.config import load_config
from topics.errors import ConfigError, RunError
from topics.runs.run import load_run


@pytest.fixture(scope="module")
def lee_run(tmp_path_factory) -> Path:
    """A small trained run beside its prepared corpus: ``<root>/prepared`` and ``<root>/run``."""
    root = tmp_path_factory.mktemp("reliability")
    result = invoke("preprocess", "sample:lee", "--out", root / "prepared", "--processes", 1)
    assert result.exit_code == 0, result.output
    result = invoke("train", root / "prepared", "--out", root / "run", "-k", 3, "--passes", 2)
    assert result.exit_code == 0, result.output
    return root / "run"


@pytest.fixture
def run_copy(lee_run, tmp_path) -> Path:
    """A private copy of the run (and its prepared corpus, which the run names by a relative path)."""
    shutil.copytree(lee_run.parent / "prepared", tmp_path / "prepared")
    shutil.copytree(lee_run, tmp_path / "run")
    return tmp_path / "run"


# --- case 1: the creation hashes are immutable; evaluate never blesses an edit ----------------------


@pytest.mark.parametrize("tampered", ["model/lda.gensim", "model/topic_word.npy", "topics.csv"])
def test_case_01_creation_hashes_are_immutable(run_copy, tampered):
    created = json.loads((run_copy / "manifest.json").read_text())["files"]
    path = run_copy / tampered
    path.write_bytes(path.read_bytes() + b"tampered")

    result = invoke("evaluate", run_copy, "--measure", "u_mass")
    manifest = json.loads((run_copy / "manifest.json").read_text())
    assert manifest["files"] == created  # the edit is not blessed
    run = load_run(run_copy)
    with pytest.raises(RunError, match=rf"{tampered}: does not match the run's manifest.*retrain"):
        run.verify()
    if tampered == "topics.csv":
        with pytest.raises(RunError, match="topics.csv: does not match.*retrain"):
            _ = run.topics
    else:
        assert result.exit_code == 2 and "does not match the run's manifest" in result.output
        with pytest.raises(RunError, match=f"{tampered}: does not match"):
            run.native_model()
        with pytest.raises(RunError, match=f"{tampered}: does not match"):
            _ = run.model
        shown = invoke("show", run_copy)
        assert shown.exit_code == 2 and "retrain the run" in shown.output
        inferred = invoke("infer", run_copy, "sample:lee")
        assert inferred.exit_code == 2 and "retrain the run" in inferred.output


def test_case_01_outputs_are_recorded_apart_from_the_creation_hashes(run_copy):
    created = json.loads((run_copy / "manifest.json").read_text())["files"]
    result = invoke("evaluate", run_copy, "--measure", "u_mass")
    assert result.exit_code == 0, result.output
    manifest = json.loads((run_copy / "manifest.json").read_text())
    assert manifest["files"] == created
    assert {"metrics.json", "topic_metrics.csv"} <= set(manifest["outputs"])
    load_run(run_copy).verify()
    # an edited output is caught too
    (run_copy / "metrics.json").write_text("{}")
    with pytest.raises(RunError, match="metrics.json: does not match"):
        load_run(run_copy).verify()


# --- case 25: a TOML value has the type it is written with ----------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[model]\nnum_topics = "10"\n', "[model] num_topics must be an integer >= 1, got '10'"),
        ("[model]\nnum_topics = true\n", "[model] num_topics must be an integer >= 1, got True"),
        ("[model]\nnum_topics = 10.0\n", "[model] num_topics must be an integer >= 1, got 10.0"),
        ('[preprocess]\nlemmatize = "yes"\n', "[preprocess] lemmatize must be true or false, got 'yes'"),
    ],
)
def test_case_25_strict_types_in_toml(tmp_path, body, expected):
    file = tmp_path / "config.toml"
    file.write_text(body)
    with pytest.raises(ConfigError) as error:
        load_config(file, body[1 : body.index("]")])
    assert str(error.value) == f"{file}: {expected}"


def test_case_25_toml_numbers_for_floats_and_flags_stay_lax(tmp_path):
    file = tmp_path / "config.toml"
    file.write_text("[preprocess]\nno_above = 1\nphrase_threshold = 5\n[model]\nalpha = 1\n")
    assert load_config(file, "preprocess").no_above == 1.0
    assert load_config(file, "model").alpha == 1.0
    # a command-line flag may still be parsed from text
    assert load_config(file, "model", {"num_topics": "12"}).num_topics == 12


# --- case 3: metrics.json names its reference corpus relative to the run folder -------------------


def test_case_03_metrics_record_a_relative_reference_path(run_copy):
    result = invoke("evaluate", run_copy, "--measure", "c_npmi")
    assert result.exit_code == 0, result.output
    text = (run_copy / "metrics.json").read_text()
    assert str(run_copy.parent) not in text
    reference = json.loads(text)["settings"]["c_npmi"]["reference"]["path"]
    assert reference == "../prepared"
    assert (run_copy / reference).resolve() == (run_copy.parent / "prepared").resolve()


# --- case 4: a plots/ symlink out of the results folder is refused --------------------------------


def small_experiment(name: str, k: object) -> str:
    return lee_experiment(name, f"num_topics = {k}\npasses = 1", seeds="[0]", measures='["u_mass"]')


def test_case_04_a_plots_symlink_out_of_the_results_folder_is_refused(tmp_path):
    file = tmp_path / "small.toml"
    file.write_text(small_experiment("small", 2))
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "results" / "small").mkdir(parents=True)
    (tmp_path / "results" / "small" / "plots").symlink_to(outside)
    result = invoke("run", file, "--results", tmp_path / "results")
    assert result.exit_code == 2, result.output
    assert "plots: would be written outside the results folder" in result.output
    assert list(outside.iterdir()) == []


# --- case 17: negative seeds and process counts are refused before anything runs ------------------


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (["train", "{prepared}", "--out", "{out}", "--seed", "-5"], "--seed"),
        (["preprocess", "sample:lee", "--out", "{out}", "--processes", "-2"], "--processes"),
        (["preprocess", "sample:lee", "--out", "{out}", "--processes", "0"], "--processes"),
    ],
)
def test_case_17_negative_seed_and_processes_are_refused(lee_run, tmp_path, command, flag):
    args = [a.format(prepared=lee_run.parent / "prepared", out=tmp_path / "out") for a in command]
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert result.exit_code == 2, result.output
    assert flag in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


# --- case 19: user text is never read as rich markup ----------------------------------------------


def test_case_19_a_title_with_markup_is_shown_as_text(tmp_path):
    from topics.corpus.readers import sample_path

    lines = [line for line in sample_path("lee").read_text(encoding="utf-8").splitlines() if line.strip()][:40]
    records = [{"id": f"d{i}", "title": f"Budget [/] cuts [bold]{i}", "text": line} for i, line in enumerate(lines)]
    source = tmp_path / "news.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    prepared, run = tmp_path / "prepared", tmp_path / "run"
    result = invoke(
        "preprocess", source, "--out", prepared, "--processes", 1, "--no-below", 1, "--no-lemmatize", "--phrases", "none"
    )
    assert result.exit_code == 0, result.output
    result = invoke("train", prepared, "--out", run, "-k", 2, "--passes", 1)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["show", str(run), "--topic", "0", "--docs", "3"])
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert "Budget [/] cuts [bold]" in result.output


# --- case 31: Ctrl-C says how to resume and exits 130 ---------------------------------------------


def test_case_31_ctrl_c_exits_130_with_a_message(lee_run, tmp_path, monkeypatch):
    import topics.runs.run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(topics.runs.run, "train_lda", interrupted)
    result = runner.invoke(app, ["train", str(lee_run.parent / "prepared"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 130, result.output
    assert "interrupted; rerun the same command to resume" in result.output
    assert not (tmp_path / "run").exists() and list(tmp_path.iterdir()) == []


# --- case 20: dates outside the documented window are flagged and left undated --------------------

ARTICLE = "# {title}\n\n{date}\n\nThe council met on Monday to discuss the budget for schools.\n\nOriginal url:\n<https://example.org/{title}>\n"


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "1799-12-31", "2201-01-01"])
def test_case_20_out_of_range_years_are_flagged_and_left_undated(tmp_path, date):
    from topics.corpus.stream import read_corpus

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "odd.txt").write_text(ARTICLE.format(title="odd", date=date), encoding="utf-8")
    (folder / "fine.txt").write_text(ARTICLE.format(title="fine", date="2014-05-19"), encoding="utf-8")
    corpus = read_corpus(folder, "articles")
    documents = {d.id: d for d in corpus}
    assert documents["odd"].date is None and date not in documents["odd"].text
    assert str(documents["fine"].date) == "2014-05-19"
    assert corpus.report.warnings["date out of range (years 1800-2200); left undated"] == 1

    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"id": "a", "text": "some words here", "date": date}) + "\n", encoding="utf-8")
    corpus = read_corpus(records, "jsonl")
    assert [d.date for d in corpus] == [None]
    assert corpus.report.to_dict()["warnings"] == {"date out of range (years 1800-2200); left undated": 1}


# --- case 16: an experiment file that cannot be read is one message, exit 2; a BOM is fine -------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda path: None, "no such file"),
        (lambda path: path.mkdir(), "is a folder"),
        (lambda path: path.write_bytes('name = "caf\u00e9"\n'.encode("cp1252")), "not UTF-8"),
    ],
    ids=["missing", "folder", "not-utf8"],
)
def test_case_16_unreadable_experiment_files(tmp_path, make, expected):
    path = tmp_path / "experiment.toml"
    make(path)
    result = runner.invoke(app, ["run", str(path), "--results", str(tmp_path / "results")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "experiment.toml" in result.output and expected in result.output
    assert not (tmp_path / "results").exists()


def test_case_16_a_toml_file_with_a_bom_is_read(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf[model]\nnum_topics = 7\n")
    assert load_config(path, "model").num_topics == 7
    experiment = tmp_path / "experiment.toml"
    experiment.write_bytes(b"\xef\xbb\xbf" + small_experiment("bom", 2).encode())
    result = runner.invoke(app, ["run", str(experiment), "--results", str(tmp_path / "results"), "--dry-run"])
    assert result.exit_code == 0, result.output


# --- case 26: `topics run` exits 1 when a run failed, and says how many ---------------------------


def test_case_26_run_exits_1_when_a_run_failed(tmp_path):
    file = tmp_path / "fail.toml"
    file.write_text(small_experiment("fail", "[2, 100000]"))
    result = invoke("run", file, "--results", tmp_path / "results")
    assert result.exit_code == 1, result.output
    assert "1 of 2 runs failed" in result.output


# --- case 30: a run's scores do not depend on which runs are scored with it -----------------------


def test_case_30_scores_do_not_depend_on_the_runs_scored_together(lee_run):
    import numpy as np

    from topics.evaluation import score_models
    from topics.evaluation.scoring import reference_corpus
    from topics.preprocessing import PreparedCorpus

    prepared = PreparedCorpus.load(lee_run.parent / "prepared")
    common = np.argsort(-prepared.term_frequency, kind="stable")[:200]
    rng = np.random.default_rng(0)
    models = [[[prepared.vocabulary[i] for i in rng.choice(common, 10, replace=False)] for _ in range(5)] for _ in range(24)]
    measures = ["u_mass", "c_v", "c_uci", "c_npmi"]
    reference = reference_corpus(prepared)
    for a, b, c in zip(models[0::3], models[1::3], models[2::3]):
        alone = score_models([a], reference, measures)[0]
        together = score_models([b, c, a], reference, measures)[2]
        for measure in measures:
            assert alone[measure].tolist() == together[measure].tolist(), measure  # equal to the last bit


# --- case 18: a truncated file of a prepared corpus or a run is one message naming it -------------


def _truncate(path: Path, by: int = 7) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size - by)


@pytest.mark.parametrize("name", ["tokens.npy", "offsets.npy", "vocabulary.txt", "documents.csv", "term_frequency.npy"])
@pytest.mark.parametrize("recorded", [True, False], ids=["sizes-recorded", "older-folder"])
def test_case_18_a_truncated_prepared_corpus_file_is_named(lee_run, tmp_path, name, recorded):
    prepared = tmp_path / "prepared"
    shutil.copytree(lee_run.parent / "prepared", prepared)
    manifest = json.loads((prepared / "prepared.json").read_text())
    assert set(manifest["files"]) == {p.name for p in prepared.iterdir()} - {"prepared.json"}
    assert manifest["files"][name]["size"] == (prepared / name).stat().st_size
    if not recorded:  # a folder prepared before sizes were recorded: the shapes still catch it
        if name == "documents.csv":
            pytest.skip("documents.csv is checked by its recorded size only")
        del manifest["files"]
        (prepared / "prepared.json").write_text(json.dumps(manifest))
    _truncate(prepared / name, by=8 if name.endswith(".npy") else 7)
    result = invoke("train", prepared, "--out", tmp_path / "run", "-k", 3, "--passes", 1)
    assert result.exit_code == 2, result.output
    assert f"{name}:" in result.output and "truncated" in result.output and "topics preprocess" in result.output
    assert not (tmp_path / "run").exists()


def test_case_18_prepared_corpus_hashes_are_recorded_and_verified(lee_run, tmp_path):
    from topics.errors import CorpusError
    from topics.preprocessing import PreparedCorpus

    prepared = tmp_path / "prepared"
    shutil.copytree(lee_run.parent / "prepared", prepared)
    PreparedCorpus.load(prepared).verify()
    tokens = prepared / "tokens.npy"
    data = bytearray(tokens.read_bytes())
    data[-1] ^= 1  # same size, other content
    tokens.write_bytes(bytes(data))
    with pytest.raises(CorpusError, match="tokens.npy: does not match prepared.json"):
        PreparedCorpus.load(prepared).verify()


def test_case_18_a_truncated_model_file_is_a_run_error(run_copy):
    _truncate(run_copy / "model" / "topic_word.npy")
    with pytest.raises(RunError, match="topic_word.npy: does not match the run's manifest"):
        _ = load_run(run_copy).model
    for command in (["show", run_copy], ["evaluate", run_copy, "--measure", "u_mass"]):
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        assert "topic_word.npy" in result.output and "retrain the run" in result.output


# --- case 27: the progress of `topics preprocess` counts documents, with the total when known -----


def test_case_27_preprocess_progress_counts_documents_of_a_known_total(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    for i in range(30):
        (folder / f"{i:02d}.txt").write_text(f"the council met on monday about schools and roads, item {i}\n")
    result = invoke(
        "preprocess", folder, "--format", "text", "--out", tmp_path / "prepared", "--processes", 1,
        "--no-below", 1, "--no-above", 1, "--no-lemmatize", "--phrases", "none",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tokenising: started, 30 documents" in result.output
    assert "tokenising: 30/30 documents" in result.output


# --- case 28: no gensim INFO lines without -v; --config names the TOML sections it reads ----------


def test_case_28_config_help_names_the_toml_sections():
    import re

    def flat(text: str) -> str:
        return re.sub(r"[\s│]+", " ", text)

    assert "TOML file with [corpus] and [preprocess] sections" in flat(invoke("preprocess", "--help").output)
    assert "TOML file with a [model] section" in flat(invoke("train", "--help").output)


def test_case_28_no_info_log_lines_without_verbose(lee_run, tmp_path):
    import subprocess
    import sys

    def topics(*args: object) -> str:
        done = subprocess.run([sys.executable, "-m", "topics", *map(str, args)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    prepared = lee_run.parent / "prepared"
    assert "INFO" not in topics("train", prepared, "--out", tmp_path / "run", "-k", 2, "--passes", 1)
    file = tmp_path / "small.toml"
    file.write_text(small_experiment("small", 2))
    assert "INFO" not in topics("run", file, "--results", tmp_path / "results", "--jobs", 2)
    assert "INFO gensim" in topics("-v", "train", prepared, "--out", tmp_path / "run-v", "-k", 2, "--passes", 1)


# --- case 15: a full or read-only disk is one message, exit 2, and nothing complete-looking -------


def _no_space(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device", "somewhere/tokens.npy")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.name.startswith(".") or p.is_file())


def test_case_15_disk_full_while_preprocessing(tmp_path, monkeypatch):
    import topics.preprocessing.prepare

    monkeypatch.setattr(topics.preprocessing.prepare, "write_vocabulary", _no_space)
    result = runner.invoke(app, ["preprocess", "sample:lee", "--out", str(tmp_path / "prepared"), "--processes", "1"])
    assert result.exit_code == 2, result.output
    assert "somewhere/tokens.npy: No space left on device; free some space" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_case_15_disk_full_while_training(lee_run, tmp_path, monkeypatch):
    import topics.runs.run

    monkeypatch.setattr(topics.runs.run, "write_trained", _no_space)
    result = runner.invoke(app, ["train", str(lee_run.parent / "prepared"), "--out", str(tmp_path / "run"), "--passes", "1"])
    assert result.exit_code == 2, result.output
    assert "No space left on device; free some space" in result.output
    assert list(tmp_path.iterdir()) == []


def test_case_15_disk_full_while_running_an_experiment(tmp_path, monkeypatch):
    import topics.runs.run

    file = tmp_path / "small.toml"
    file.write_text(small_experiment("small", 2))
    monkeypatch.setattr(topics.runs.run, "write_trained", _no_space)
    result = runner.invoke(app, ["run", str(file), "--results", str(tmp_path / "results"), "--jobs", "1"])
    assert result.exit_code == 2, result.output
    assert "No space left on device; free some space" in result.output and "rerun the same command" in result.output
    runs = tmp_path / "results" / "small" / "runs"
    assert [p.name for p in runs.iterdir()] == []  # no run folder, complete or failed, and no temporary one


def test_case_15_a_read_only_results_folder(tmp_path, monkeypatch):
    import errno
    import os

    file = tmp_path / "small.toml"
    file.write_text(small_experiment("small", 2))
    results = tmp_path / "results"
    results.mkdir()
    real_mkdir, real_open = os.mkdir, os.open

    def read_only(real):
        def call(path, *args, **kwargs):
            if str(path).startswith(str(results)):
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "mkdir", read_only(real_mkdir))
    monkeypatch.setattr(os, "open", read_only(real_open))
    result = runner.invoke(app, ["run", str(file), "--results", str(results)])
    assert result.exit_code == 2, result.output
    assert "Read-only file system; choose a writable" in result.output and "results" in result.output
    assert list(results.iterdir()) == []


# --- case 29: the workers of a killed `topics run` die with it and install nothing ---------------


def _session_processes(session: int) -> list[int]:
    """Live (not zombie) processes of a session, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_case_29_workers_die_with_a_killed_run(tmp_path, signal_name):
    import os
    import signal
    import subprocess
    import sys
    import time

    file = tmp_path / "kill.toml"
    file.write_text(
        small_experiment("kill", 5).replace("seeds = [0]", "seeds = [0, 1, 2, 3, 4, 5]").replace("passes = 1", "passes = 40")
    )
    results = tmp_path / "results"
    process = subprocess.Popen(
        [sys.executable, "-m", "topics", "run", str(file), "--results", str(results), "--jobs", "2"],
        start_new_session=True,  # the session id finds every process it started
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = results / "kill" / "runs"
    deadline = time.monotonic() + 300
    while not (runs.is_dir() and any(p.name.startswith(".tmp-") for p in runs.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "the experiment never started training"
        time.sleep(0.05)
    os.kill(process.pid, getattr(signal, signal_name))
    process.wait()
    installed = {p.name for p in runs.iterdir() if not p.name.startswith(".")}
    deadline = time.monotonic() + 15
    while _session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120] for pid in _session_processes(process.pid)}
    assert left == {}
    time.sleep(2)
    assert {p.name for p in runs.iterdir() if not p.name.startswith(".")} == installed


# --- the corpus readers (cases 5-14, 21-24, 2): every input ingested or skipped with a reason -----

RUSSIAN_LINE = "Президент Владимир Путин во время рабочего визита в Пекин заявил о новых соглашениях."


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _read(source: Path | str, format: str | None = None, **options):
    """The documents and the corpus of ``source`` after one full pass."""
    from topics.corpus.stream import read_corpus

    corpus = read_corpus(source, format, **options)
    return list(corpus), corpus


def _reasons(corpus) -> dict[str, str]:
    return {Path(s.source).name: s.reason for s in corpus.report.skipped}


def _awkward_folder(root: Path) -> Path:
    folder = root / "awkward"
    _write(folder / "a.txt", "Plain text about the budget.")
    _write(folder / "b.txt", "")
    _write(folder / "c.txt", b"\x00\x01binary")
    _write(folder / "d.txt", "Plain text about the budget.")
    _write(folder / ".hidden.txt", "A hidden note.")
    _write(folder / "sub" / "e.md", "Nested text.")
    return folder


def _article_folder(root: Path) -> Path:
    folder = root / "articles"
    _write(folder / "one.txt", ARTICLE.format(title="one", date="2014-05-19"))
    _write(folder / "one.bak", ARTICLE.format(title="one", date="2014-05-19"))
    _write(folder / "two.txt", "# Title only\n\nMay 1, 2020\n")
    return folder


def _lines_file(root: Path) -> Path:
    return _write(root / "docs.cor", b"first document\r\n\r\nthird\rfourth\n" + RUSSIAN_LINE.encode("cp1251") + b"\n")


def _jsonl_file(root: Path) -> Path:
    lines = [json.dumps({"id": "a", "text": "one"}), "", "{bad", json.dumps({"id": "a", "text": "two"}), json.dumps([1])]
    return _write(root / "docs.jsonl", "\n".join(lines) + "\n")


def _csv_file(root: Path) -> Path:
    return _write(root / "docs.csv", 'id,text\n1,"one, quoted"\n2,"two\nlines"\n3,\n,,\n4,a,b\n')


@pytest.mark.parametrize(
    ("make", "unit"),
    [
        (_awkward_folder, "files"),
        (_article_folder, "files"),
        (_lines_file, "lines"),
        (_jsonl_file, "lines"),
        (_csv_file, "rows"),
        (lambda root: "sample:lee", "lines"),
    ],
    ids=["text", "articles", "lines", "jsonl", "csv", "sample"],
)
def test_case_05_inputs_seen_equal_ingested_plus_skipped(tmp_path, make, unit):
    documents, corpus = _read(make(tmp_path))
    report = corpus.report.to_dict()
    assert report["input_unit"] == unit
    assert report["inputs_seen"] == len(documents) + len(report["skipped"]) == report["documents_read"] + len(report["skipped"])
    assert report["inputs_seen"] > 0 and sum(report["skipped_by_reason"].values()) == len(report["skipped"])


def test_case_05_report_json_counts_inputs_seen(tmp_path):
    folder = _awkward_folder(tmp_path)
    for i in range(6):
        _write(folder / f"more{i}.txt", f"Budget schools council meeting number {i} with teachers and parents.")
    result = invoke("preprocess", folder, "--out", tmp_path / "prepared", "--processes", 1, "--no-below", 1, "--phrases", "none")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    assert report["input_unit"] == "files"
    assert report["inputs_seen"] == report["documents_read"] + len(report["skipped"]) == 12


@pytest.mark.parametrize(("length", "max_chars"), [(200_000, None), (200_000, 150_000)], ids=["over-csv-limit", "over-max"])
def test_case_06_a_long_csv_field_skips_only_its_row(tmp_path, length, max_chars):
    path = _write(tmp_path / "docs.csv", f'id,text\n1,first\n2,"{"x" * length}"\n3,third\n4,fourth\n')
    options = {} if max_chars is None else {"max_document_chars": max_chars}
    documents, corpus = _read(path, **options)
    if max_chars is None:
        assert [d.id for d in documents] == ["1", "2", "3", "4"] and len(documents[1].text) == length
    else:
        assert [d.id for d in documents] == ["1", "3", "4"]
        [skipped] = corpus.report.skipped
        assert skipped.source == f"{path}:3" and skipped.reason.startswith("longer than max_document_chars")
    assert corpus.report.inputs_seen == 4


@pytest.mark.parametrize("format", ["lines", "jsonl"])
def test_case_07_lone_cr_line_ends(tmp_path, format):
    texts = ["first document", "second document", "third document"]
    lines = texts if format == "lines" else [json.dumps({"text": t}) for t in texts]
    path = _write(tmp_path / f"docs.{format}", "\r".join(lines) + "\r")
    documents, corpus = _read(path, format)
    assert [d.text for d in documents] == texts
    assert corpus.report.warnings["lone CR line ends read as line ends"] == 1


def test_case_08_hidden_files_are_reported_as_skipped(tmp_path):
    folder = tmp_path / "texts"
    _write(folder / "a.txt", "Visible text.")
    _write(folder / ".name.txt", "Hidden text.")
    _write(folder / ".git" / "config", "a hidden folder")
    documents, corpus = _read(folder, "text")
    assert [d.id for d in documents] == ["a"]
    assert _reasons(corpus) == {".name.txt": "hidden file", ".git": "hidden folder"}


@pytest.mark.parametrize("backup", ["one.bak", "one.txt~", "0-one.md"])
def test_case_09_the_first_kept_copy_is_the_original(tmp_path, backup):
    folder = tmp_path / "articles"
    _write(folder / "one.txt", ARTICLE.format(title="one", date="2014-05-19"))
    _write(folder / backup, ARTICLE.format(title="one", date="2014-05-19"))
    _write(folder / "two.txt", ARTICLE.format(title="one", date="2014-05-19"))
    documents, corpus = _read(folder, "articles")
    assert [d.id for d in documents] == ["one"]
    reasons = _reasons(corpus)
    assert reasons[backup].startswith("not a .txt article file")
    assert reasons["two.txt"] == f"duplicate of {folder / 'one.txt'}"


def test_case_10_encoding_detected_per_line(tmp_path):
    western = ["Le garçon était très fâché à cause de la grève à Montréal.", "“Smart quotes” — a café, déjà vu."]
    data = b"".join(line.encode("cp1252") + b"\n" for line in western) + RUSSIAN_LINE.encode("cp1251") + b"\n"
    path = _write(tmp_path / "docs.txt", data)
    documents, corpus = _read(path, "lines")
    assert [d.text for d in documents] == [*western, RUSSIAN_LINE]
    assert "cp1251" in corpus.report.encodings[str(path)]
    assert "cp1251" in corpus.report.to_dict()["encodings"][str(path)]


def test_case_11_skipped_by_reason_is_grouped_by_kind(tmp_path):
    folder = tmp_path / "texts"
    for name in ("a", "b", "c"):
        _write(folder / f"{name}.txt", "The same text.")
    _write(folder / "d.txt", b"\x00")
    _write(folder / "e.txt", b"\x00\x00")
    _, corpus = _read(folder, "text")
    report = corpus.report.to_dict()
    assert report["skipped_by_reason"] == {"duplicate": 2, "binary file": 2}
    assert [s["reason"] for s in report["skipped"]][:2] == [f"duplicate of {folder / 'a.txt'}"] * 2


def test_case_12_a_fifo_is_skipped_not_read(tmp_path):
    import os
    import threading

    folder = tmp_path / "texts"
    _write(folder / "a.txt", "Regular text.")
    os.mkfifo(folder / "pipe.txt")
    outcome: list = []
    reader = threading.Thread(target=lambda: outcome.append(_read(folder, "text")), daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # unblock the reader before failing
        os.close(os.open(folder / "pipe.txt", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a folder with a FIFO hangs")
    documents, corpus = outcome[0]
    assert [d.id for d in documents] == ["a"]
    assert _reasons(corpus) == {"pipe.txt": "not a regular file (a FIFO)"}
    result = invoke("preprocess", folder / "pipe.txt", "--out", tmp_path / "out", "--processes", 1)
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_case_13_symbolic_links(tmp_path):
    from topics.corpus.stream import read_corpus

    outside = _write(tmp_path / "outside" / "secret.txt", "Text outside the corpus.")
    folder = tmp_path / "texts"
    _write(folder / "a" / "x.txt", "Text inside the corpus.")
    (folder / "b").symlink_to(folder / "a")  # inside: read once, as a/
    (folder / "c.txt").symlink_to(folder / "a" / "x.txt")  # inside: the same text again
    (folder / "d.txt").symlink_to(folder / "gone.txt")
    (folder / "e.txt").symlink_to(folder / "e.txt")
    (folder / "f.txt").symlink_to(outside)
    (folder / "a" / "up").symlink_to(folder)  # a loop through a folder
    documents, corpus = _read(folder, "text")
    assert [d.id for d in documents] == ["a/x"]
    assert _reasons(corpus) == {
        "b": f"folder already read (as {folder / 'a'})",
        "up": f"folder already read (as {folder})",
        "c.txt": f"duplicate of {folder / 'a' / 'x.txt'}",
        "d.txt": f"dangling symbolic link (to {folder / 'gone.txt'})",
        "e.txt": "symbolic link loop",
        "f.txt": f"symbolic link to outside the corpus folder (to {outside})",
    }
    assert len(read_corpus(folder, "text").fingerprint()) == 64


def test_case_14_non_utf8_file_names_and_deep_folders(tmp_path):
    import os

    from topics.corpus.stream import read_corpus

    folder = tmp_path / "texts"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"A file whose name is not UTF-8.")
    descriptor = os.open(folder, os.O_RDONLY)
    for _ in range(1100):  # one level at a time: pathlib's mkdir(parents=True) recurses
        os.mkdir("d", dir_fd=descriptor)
        descriptor, parent = os.open("d", os.O_RDONLY, dir_fd=descriptor), descriptor
        os.close(parent)
    leaf = os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
    os.write(leaf, b"A file 1,100 folders down.")
    os.close(leaf)
    os.close(descriptor)
    documents, corpus = _read(folder, "text")
    assert sorted(d.id for d in documents) == ["caf\\xe9", "/".join(["d"] * 1100) + "/deep"]
    json.dumps(corpus.report.to_dict(), ensure_ascii=False).encode("utf-8")
    assert len(read_corpus(folder, "text").fingerprint()) == 64
    result = invoke("preprocess", folder, "--out", tmp_path / "out", "--processes", 1, "--no-below", 1, "--phrases", "none")
    assert result.exit_code == 0, result.output
    assert "caf\\xe9" in (tmp_path / "out" / "documents.csv").read_text(encoding="utf-8")
    # pytest removes old temporary folders with a recursive rmtree, which 1,100 levels would overflow
    subprocess.run(["rm", "-rf", str(folder / "d")], check=True)


def test_case_21_binary_content_without_nul_bytes(tmp_path):
    import random

    noise = bytes(random.Random(0).choice(range(1, 256)) for _ in range(20_000))
    folder = tmp_path / "texts"
    _write(folder / "paper.txt", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + noise)
    _write(folder / "noise.txt", noise)
    _write(folder / "fine.txt", "A text file.")
    documents, corpus = _read(folder, "text")
    assert [d.id for d in documents] == ["fine"]
    reasons = _reasons(corpus)
    assert reasons["paper.txt"] == "binary file (PDF)"
    assert reasons["noise.txt"].startswith(("binary content", "not UTF-8"))

    text_lines = [f"document number {i} about schools and budgets" for i in range(20)]
    path = _write(tmp_path / "docs.cor", "\n".join(text_lines).encode() + b"\n" + noise)
    documents, corpus = _read(path, "lines")
    assert [d.text for d in documents] == text_lines
    assert set(corpus.report.to_dict()["skipped_by_reason"]) <= {"binary content", "not UTF-8, cp1251 or cp1252", "blank line"}
    assert corpus.report.inputs_seen == len(documents) + len(corpus.report.skipped)
    pdf = _write(tmp_path / "paper.cor", b"%PDF-1.4\n1 0 obj\n")
    result = invoke("preprocess", pdf, "--out", tmp_path / "out", "--processes", 1)
    assert result.exit_code == 2 and "a PDF file, not text" in result.output


@pytest.mark.parametrize("format", ["text", "lines", "jsonl", "csv"])
def test_case_22_a_maximum_document_size(tmp_path, format):
    import re

    from topics.config import CorpusConfig

    assert CorpusConfig(source="x").max_document_chars == 1_000_000
    long, short = "word " * 1000, "a short document"
    if format == "text":
        path = tmp_path / "texts"
        _write(path / "long.txt", long)
        _write(path / "short.txt", short)
    elif format == "lines":
        path = _write(tmp_path / "docs.cor", f"{long}\n{short}\n")
    elif format == "jsonl":
        path = _write(tmp_path / "docs.jsonl", json.dumps({"text": long}) + "\n" + json.dumps({"text": short}) + "\n")
    else:
        path = _write(tmp_path / "docs.csv", f"text\n{long}\n{short}\n")
    documents, corpus = _read(path, format, max_document_chars=1000)
    assert [d.text for d in documents] == [short]
    [skipped] = corpus.report.skipped
    assert skipped.reason.startswith("longer than max_document_chars (")
    assert re.fullmatch(
        r"longer than max_document_chars \((4,999|5,0\d\d) (characters|bytes) > 1,000 characters\)", skipped.reason
    )


def test_case_23_ids_are_unique_and_repeated_urls_warn(tmp_path):
    folder = tmp_path / "articles"
    _write(folder / "a" / "story.txt", ARTICLE.format(title="story", date="2014-05-19"))
    _write(folder / "b" / "story.txt", ARTICLE.format(title="story", date="2014-05-19").replace("budget", "harbour"))
    documents, corpus = _read(folder, "articles")
    assert [d.id for d in documents] == ["story", "story@b/story.txt"]
    assert corpus.report.warnings["same url as an earlier document, different text"] == 1
    documents, corpus = _read(_jsonl_file(tmp_path))
    assert [d.id for d in documents] == ["a", "a@docs.jsonl:4"]
    assert corpus.report.warnings["repeated id, made unique with the source (id@source)"] == 1


def test_case_24_a_corpus_not_in_the_configured_language_stops(tmp_path):
    words = RUSSIAN_LINE.rstrip(".").split()
    lines = [" ".join(words[i % len(words) :] + words[: i % len(words)]) for i in range(60)]
    path = _write(tmp_path / "russian.cor", "\n".join(lines) + "\n")
    result = invoke("preprocess", path, "--out", tmp_path / "out", "--processes", 1)
    assert result.exit_code == 2, result.output
    assert "look like 'ru'" in result.output and "language" in result.output and "stopwords" in result.output
    assert not (tmp_path / "out").exists()
    result = invoke(
        "preprocess", path, "--out", tmp_path / "out", "--processes", 1, "--language", "ru", "--stopwords", "russian",
        "--no-below", 1, "--no-above", 1.0, "--phrases", "none",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("place", ["input", "holds-input", "marker-less"])
def test_case_02_force_never_replaces_the_input(lee_run, tmp_path, place):
    prepared = tmp_path / "prepared"
    shutil.copytree(lee_run.parent / "prepared", prepared)
    # settings under which the preprocessing would succeed, so only the refusal keeps the folder
    options: list[object] = [
        "--text-field",
        "source",
        "--no-below",
        1,
        "--no-above",
        1.0,
        "--language",
        "en",
        "--phrases",
        "none",
    ]
    if place == "marker-less":  # a folder of the user's with a prepared.json of its own
        source, out, options = _lines_file(tmp_path), tmp_path / "mine", options[2:]
        _write(out / "prepared.json", "{}")
        _write(out / "notes.txt", "my notes")
    elif place == "input":
        source = out = _awkward_folder(tmp_path)
    else:
        source, out = prepared / "documents.csv", prepared  # a CSV file inside a prepared corpus
    before = {p: p.read_bytes() for p in [*source.parent.rglob("*"), *out.rglob("*")] if p.is_file()}
    result = invoke("preprocess", source, "--out", out, "--processes", 1, "--force", *options)
    assert result.exit_code == 2, result.output
    assert {p: p.read_bytes() for p in before} == before
