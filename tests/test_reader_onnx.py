"""The reader through onnxruntime (rag/answer/reader_onnx.py): real forward passes of the
graph built from the shipped weights against the torch reader, the tokenizer against
transformers', the cached graph rebuilt when it is stale, the engine one setting apart."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from config import SEEDS_DIR, load_settings
from rag.answer import reader as R
from rag.answer import reader_onnx as O
from rag.answer.readers import make_reader
from rag.chunking import split_sentences

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
WINDOWS = [
    "وقع الاتفاقية عن الجانب الروسي وزير الداخلية فلاديمير كولوكولتسيف في طهران يوم الأحد.",
    "شاركت في المعرض 900 دار نشر من 32 دولة، وزاره أكثر من مليون شخص خلال عشرة أيام.",
    "The agreement was signed in Tehran by the two interior ministers on Sunday.",
    "وقَّعَ الوزيرُ مُصْطَفَى محمد  نجـــار الاتفاقيـــة في طهران يوم 12 مارس 2015.",
]
ODD = [  # what a tokenizer may get wrong: tashkeel, tatweel, doubled and odd white space,
    # special tokens written in the text, control characters, emoji, a literal ▁, a long URL
    "مُصْطَفَى  نجـــار\u00a0و\u3000سيوة", "x<s>y </s><mask> <pad>", "\x01\x02 abc \x1c", "🙂🙂x", "a\u2581b \u2581x ▁",
    "\u200b\u200c كلمة", "https://www.example.com/a/b?q=1&r=2" * 4, "", "   ",
]


@pytest.fixture(scope="module")
def hf(base_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base_dir))


def seed_sentences() -> list[str]:
    out = []
    for p in sorted(SEEDS_DIR.iterdir()):
        if p.suffix in (".txt", ".md"):
            text = p.read_text(encoding="utf-8")
            out += [text[a:b] for a, b in split_sentences(text)]
    return out


def test_unigram_tokenizer_gives_the_pieces_and_offsets_transformers_gives(base_dir, hf):
    """embeddings.unigram against the `tokenizers` model transformers builds for the reader."""
    from embeddings.unigram import UnigramTokenizer

    ref = hf.backend_tokenizer
    ref.no_truncation()
    mine = UnigramTokenizer.load(O.ensure_tokenizer(base_dir))
    texts = seed_sentences() + ODD
    arcd = SHARED / "arcd" / "arcd-test.json"
    if arcd.exists():  # ~100k pieces of real Arabic text more
        data = json.loads(arcd.read_text(encoding="utf-8"))["data"]
        texts += [p["context"] for a in data[:40] for p in a["paragraphs"]]
    for text in texts:
        e = ref.encode(text, add_special_tokens=False)
        assert mine.encode(text) == (e.ids, [tuple(o) for o in e.offsets]), text


def test_pairs_are_encoded_as_transformers_encodes_them(base_dir, hf):
    tok = O.PairTokenizer(base_dir)
    long_question = "ما الذي قاله وزير الداخلية الروسي عن التعاون الأمني بين البلدين " * 8  # > 64 pieces
    long_window = "قال المتحدث إن الاجتماع ناقش قضايا كثيرة. " * 120  # > 256 pieces
    pairs = [("من وقع الاتفاقية؟", w) for w in WINDOWS + ODD + seed_sentences()[:30]]
    pairs += [(long_question, WINDOWS[0]), ("ماذا ناقش الاجتماع؟", long_window), ("<s> من؟", "</s> نص")]
    for q, w in pairs:
        a, b = R.encode(hf, [q], [w]), tok.encode([q], [w])
        for key in ("input_ids", "attention_mask", "offset_mapping"):
            assert a[key].numpy().tolist() == b[key].tolist(), (key, q, w)
        assert a.sequence_ids(0) == b.sequence_ids(0)
    qs, ws = ["من؟", long_question, "كم؟"], WINDOWS[:3]  # a padded batch
    a, b = R.encode(hf, qs, ws), tok.encode(qs, ws)
    for key in ("input_ids", "attention_mask", "offset_mapping"):
        assert a[key].numpy().tolist() == b[key].tolist(), key
    assert [a.sequence_ids(i) for i in range(3)] == [b.sequence_ids(i) for i in range(3)]


def test_the_onnx_graph_computes_what_torch_fp32_computes(base_dir):
    import torch

    onnx_reader = O.OnnxReader(base_dir, variant="fp32", threads=1)
    torch_reader = R.Reader(base_dir, dtype="float32", threads=1)
    question = "من وقع الاتفاقية؟"
    onnx_reader.read(question, WINDOWS[:1])
    torch_reader.read(question, WINDOWS[:1])
    for w in WINDOWS:
        enc = R.encode(torch_reader._tokenizer, [question], [w])
        with torch.inference_mode():
            out = torch_reader._model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        starts, ends = onnx_reader.logits(onnx_reader.encode(question, w))
        assert np.abs(out.start_logits.numpy() - starts).max() < 1e-3
        assert np.abs(out.end_logits.numpy() - ends).max() < 1e-3
    # the same n-best spans as the torch reader
    a = torch_reader.read_spans(question, WINDOWS, 3)
    b = onnx_reader.read_spans(question, WINDOWS, 3)
    assert [[(s.window, s.start, s.end) for s in x] for x in a] == [[(s.window, s.start, s.end) for s in y] for y in b]
    for xs, ys in zip(a, b):
        assert all(abs(x.margin - y.margin) < 1e-3 for x, y in zip(xs, ys))


def test_threads_read_windows_at_once_over_one_session_with_the_same_spans(base_dir):
    question = "من وقع الاتفاقية؟"
    one = O.OnnxReader(base_dir, threads=1).read(question, WINDOWS)
    two = O.OnnxReader(base_dir, threads=2)
    spans = two.read(question, WINDOWS)
    assert set(two._sessions) == {1}  # one copy of the weights: two windows at a time on it
    assert [(s.window, s.start, s.end) for s in spans] == [(s.window, s.start, s.end) for s in one]
    assert max(abs(a.margin - b.margin) for a, b in zip(one, spans)) < 1e-4
    per_count = O.OnnxReader(base_dir, threads=2, parallel="sessions")
    assert [(s.start, s.end) for s in per_count.read(question, WINDOWS)] == [(s.start, s.end) for s in one]
    assert set(per_count._sessions) == {2}
    auto = O.OnnxReader(base_dir, threads=0)  # one thread, one session (docs/performance.md)
    assert [(s.start, s.end) for s in auto.read(question, WINDOWS)] == [(s.start, s.end) for s in one]
    assert set(auto._sessions) == {1} and auto.session() is auto.session(1) and auto._pool is None


def test_the_graph_is_built_once_and_rebuilt_when_stale(tmp_path, base_dir):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    path = O.ensure_graph(base_dir, cache_dir=tmp_path, variant="fp32")
    marker = json.loads((path.parent / O.MARKER).read_text())
    assert marker["base_sha256"] == R.base_sha256(base_dir)
    assert marker["weights_sha256"] == O.file_sha256(R.WEIGHTS_FILE)
    built = path.stat().st_mtime_ns
    assert O.ensure_graph(base_dir, cache_dir=tmp_path, variant="fp32") == path
    assert path.stat().st_mtime_ns == built  # cached: not rebuilt

    # other reader weights (a retrained reader): rebuilt from them
    with safe_open(str(R.WEIGHTS_FILE), framework="np") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    tensors["qa_outputs.bias"] = tensors["qa_outputs.bias"] + np.float16(1.0)
    other = tmp_path / "retrained.safetensors"
    save_file(tensors, str(other), metadata=meta)
    again = O.ensure_graph(base_dir, other, cache_dir=tmp_path, variant="fp32")
    assert json.loads((again.parent / O.MARKER).read_text())["weights_sha256"] == O.file_sha256(other)
    shifted = O.OnnxReader(base_dir, other, cache_dir=tmp_path, threads=1)
    plain = O.OnnxReader(base_dir, cache_dir=tmp_path / "plain", threads=1)
    (s1,) = shifted.read("من؟", WINDOWS[:1])
    (s0,) = plain.read("من؟", WINDOWS[:1])
    assert abs((s1.score - s0.score) - 2.0) < 1e-3  # +1 on every start and end logit

    # an incomplete build (no marker) is rebuilt
    (again.parent / O.MARKER).unlink()
    O.ensure_graph(base_dir, cache_dir=tmp_path, variant="fp32")
    assert json.loads((again.parent / O.MARKER).read_text())["weights_sha256"] == O.file_sha256(R.WEIGHTS_FILE)


def test_weights_trained_over_another_base_are_refused(tmp_path, base_dir):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(R.WEIGHTS_FILE), framework="np") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    bad = tmp_path / "other-base.safetensors"
    save_file(tensors, str(bad), metadata={**meta, "base_sha256": "0" * 64})
    with pytest.raises(R.ReaderMismatch, match="trained over base model 000000000000"):
        O.OnnxReader(base_dir, bad, cache_dir=tmp_path).read("من؟", ["نص."])
    with pytest.raises(FileNotFoundError, match="reader weights missing"):
        O.OnnxReader(base_dir, tmp_path / "none.safetensors", cache_dir=tmp_path).read("من؟", ["نص."])


def test_the_engine_is_one_setting_apart(tmp_path, base_dir, monkeypatch):
    assert load_settings(home=tmp_path).reader_engine == "onnx"
    monkeypatch.setenv("SANAD_READER_ENGINE", "torch")
    assert load_settings(home=tmp_path).reader_engine == "torch"
    assert isinstance(make_reader(base_dir, "torch", dtype="float32"), R.Reader)
    onnx_reader = make_reader(base_dir, "onnx")
    assert isinstance(onnx_reader, O.OnnxReader) and onnx_reader.variant == O.DEFAULT_VARIANT
    assert make_reader(base_dir, "onnx", dtype="float32").variant == "fp32"
    with pytest.raises(ValueError, match="is for reader_engine = 'torch'"):
        make_reader(base_dir, "onnx", dtype="bfloat16")
    with pytest.raises(ValueError, match="reader_engine must be onnx or torch"):
        make_reader(base_dir, "tensorrt")


def test_weights_of_more_trained_layers_load_in_both_engines(tmp_path, base_dir):
    """training/reader.py --layers N: the file says how many top layers it holds. The shipped
    six plus the base's own layer 5 read exactly as the shipped file; a file whose count and
    tensors disagree is refused by both engines."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(R.WEIGHTS_FILE), framework="np") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    with safe_open(str(base_dir / "model.safetensors"), framework="np") as fh:
        layer5 = {"bert." + k: fh.get_tensor(k).astype(np.float16) for k in fh.keys() if k.startswith("encoder.layer.5.")}
    assert layer5
    seven = tmp_path / "seven.safetensors"
    save_file({**tensors, **layer5}, str(seven), metadata={**meta, "trained_layers": "7"})
    question = "من وقع الاتفاقية؟"
    shipped = O.OnnxReader(base_dir, cache_dir=tmp_path / "a", threads=1, variant="fp32").read(question, WINDOWS)
    onnx7 = O.OnnxReader(base_dir, seven, cache_dir=tmp_path / "b", threads=1, variant="fp32").read(question, WINDOWS)
    torch7 = R.Reader(base_dir, seven, threads=1, dtype="float32").read(question, WINDOWS)
    assert [(s.start, s.end) for s in onnx7] == [(s.start, s.end) for s in shipped] == [(s.start, s.end) for s in torch7]
    assert max(abs(a.score - b.score) for a, b in zip(onnx7, shipped)) < 1e-3

    wrong = tmp_path / "wrong.safetensors"
    save_file(tensors, str(wrong), metadata={**meta, "trained_layers": "7"})
    for reader in (O.OnnxReader(base_dir, wrong, cache_dir=tmp_path / "c"), R.Reader(base_dir, wrong, dtype="float32")):
        with pytest.raises(R.ReaderMismatch, match="other tensors"):
            reader.read(question, WINDOWS[:1])
