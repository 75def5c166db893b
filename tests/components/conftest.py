"""A handful of sample-corpus documents ingested once per session (embedded Chroma + SQLite)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.settings import Settings
from ingest.pipeline import build_ingest_service

SMALL_CORPUS = ("subsidy/ks-innovation-consortium-2024.md", "land/ks-industrial-land-transfer.md",
                "talent/ks-talent-housing-subsidy.md", "subsidy/ks-rd-investment-reward.md",
                "land/ks-phased-land-supply.md")


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, embedder, sample_corpus_dir) -> Path:
    """Data dir of a few sample documents; copy it before writing to it."""
    corpus = tmp_path_factory.mktemp("small-corpus")
    for rel in SMALL_CORPUS:
        source = sample_corpus_dir / rel
        shutil.copy(source, corpus / source.name)
    root = tmp_path_factory.mktemp("small-index")
    settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=corpus)
    report = build_ingest_service(settings, embedder=embedder).sync([corpus])
    assert not report.failed and report.counts()["added"] >= 3, report.results
    return settings.data_dir


@pytest.fixture
def small_services(tmp_path, small_index, embedder, sample_corpus_dir):
    """``Services`` over a private copy of the small index; the keyword index checks every second."""
    from app.main import Services

    data_dir = tmp_path / "data"
    shutil.copytree(small_index, data_dir)
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir,
                        rate_limit_per_ip=0, rate_limit_per_conversation=0)
    services = Services.build(settings, embedder=embedder)
    yield services
    services.keywords.close()
