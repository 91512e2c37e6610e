"""Shared fixtures: the read-only data sets in ../shared (see /work/shared/data/README.md)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_folder() -> Path:
    """``../shared`` from the repository root, else /work/shared."""
    beside_repo = REPO_ROOT.parent / "shared"
    return beside_repo if (beside_repo / "data").is_dir() else Path("/work/shared")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of shared data sets (read-only)."""
    folder = _shared_folder() / "data"
    if not folder.is_dir():
        pytest.skip(f"{folder}: shared data sets not found")
    return folder


@pytest.fixture(scope="session")
def seed_article() -> Path:
    """The seed article, the reference example of the article format."""
    path = _shared_folder() / "seed" / "000_58779b65910cf267.txt"
    if not path.is_file():
        pytest.skip(f"{path}: seed article not found")
    return path


@pytest.fixture(scope="session")
def bbc_articles_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2,225 BBC articles, unpacked once per session; the folder of their .txt files."""
    target = tmp_path_factory.mktemp("bbc")
    with tarfile.open(shared_data / "bbc-articles.tar.gz") as archive:
        archive.extractall(target, filter="data")
    return target / "bbc-articles"
