"""Fixtures only; the helpers they use are in helpers.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from .helpers import CORPUS, FakeEncoder, make_cross_encoder


@pytest.fixture
def fake_encoder(monkeypatch: pytest.MonkeyPatch) -> FakeEncoder:
    """Replace the model everywhere it is loaded; count how often it is asked to encode."""
    enc = FakeEncoder()

    def load(spec, index_dir=None, **kwargs):
        enc.spec = spec
        return enc

    import itsqa.build
    import itsqa.live
    import itsqa.service

    for module in (itsqa.build, itsqa.service, itsqa.live):
        monkeypatch.setattr(module, "load_encoder", load)
    return enc


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """The project's corpus (with its metadata) copied into tmp_path/corpus."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny cross-encoder made once per session (imports torch: for slow tests only)."""
    return make_cross_encoder(tmp_path_factory.mktemp("cross-encoder"))
