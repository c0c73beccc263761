"""The trained reader (rag/answer/reader.py): a real forward pass over the shipped weights,
spans that are exact slices of the original text, and a clear refusal of weights trained over
another base model."""

from __future__ import annotations

import shutil

import pytest

from rag.answer import reader as R
from tests.test_engine import check_quotes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reader(base_dir):
    return R.Reader(base_dir)


def test_iranian_minister_is_the_one_named_beside_the_russian(seeded):
    # «فلاديمير كولوكولتسيف وزير الداخلية الروسية ... بدعوة من نظيره الإيراني مصطفى محمد نجار»:
    # the qualifier rule is gone; the judge weighs the reader's n-best spans of the sentence
    a = seeded.ask("من هو وزير الداخلية الإيراني؟")
    assert not a.abstained, a.confidence
    assert a.answer == "مصطفى محمد نجار"
    check_quotes(a)


def test_russian_minister_and_the_question_that_names_his_visit(seeded):
    a = seeded.ask("من هو وزير الداخلية الروسي؟")
    assert not a.abstained and "كولوكولتسيف" in a.answer and "نجار" not in a.answer
    check_quotes(a)
    a = seeded.ask("ما هو التحالف القانوني الذي اقترحه الوزير الروسي؟")
    assert not a.abstained
    assert a.answer == "«تحالف قانوني»"  # the rules said «طرح»; the quote closes as it opens
    assert a.answer in a.citations[0].quote
    check_quotes(a)




def test_book_fair_count_is_publishers_not_countries(seeded):
    # «شاركت 900 دار نشر من 32 دولة»: the reader's spans «900 دار نشر» and «32 دولة» both judged
    a = seeded.ask("كم عدد دور النشر المشاركة في معرض الكتاب؟")
    assert not a.abstained, a.confidence
    assert "900" in a.answer and "32" not in a.answer
    check_quotes(a)


def test_spans_are_exact_slices_of_the_original_window(reader):
    windows = [
        "وقَّعَ الوزيرُ مُصْطَفَى محمد  نجار الاتفاقيـــة في طهران يوم 12 مارس 2015.",
        "Le ministre a signé l'accord à Téhéran.",
        "شاركت 900 دار نشر من 32 دولة في المعرض.",
    ]
    spans = reader.read("من وقع الاتفاقية؟", windows)
    assert [s.window for s in spans] == [0, 1, 2]
    for s, w in zip(spans, windows):
        piece = w[s.start : s.end]
        assert 0 <= s.start < s.end <= len(w)
        assert piece == piece.strip() and piece in w


def test_best_span_maps_tokens_back_to_the_text_as_written(base_dir):
    """Logits that point at the tokens of a name give exactly that name, with its tashkeel,
    tatweel and doubled space, as a slice of the original window."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base_dir))
    window = "وقَّعَ الوزيرُ مُصْطَفَى محمد  نجـــار الاتفاقية في طهران."
    name = "مُصْطَفَى محمد  نجـــار"
    lo = window.index(name)
    hi = lo + len(name)
    enc = R.encode(tok, ["من وقع الاتفاقية؟"], [window])
    offs = enc["offset_mapping"][0].tolist()
    ctx = [k for k, sid in enumerate(enc.sequence_ids(0)) if sid == 1]
    first = next(k for k in ctx if offs[k][1] > lo)
    last = max(k for k in ctx if offs[k][0] < hi)
    start = torch.full((1, len(offs)), -10.0)
    end = torch.full((1, len(offs)), -10.0)
    start[0, first], end[0, last] = 5.0, 5.0
    (span,) = R.best_spans(enc, start, end, [window])
    assert window[span.start : span.end] == name
    assert span.score == 10.0 and span.null == -20.0 and span.margin == 30.0




def test_empty_and_overlong_windows_are_read_without_error(reader):
    long = "قال المتحدث إن الاجتماع ناقش قضايا كثيرة. " * 120  # far beyond MAX_LENGTH tokens
    spans = reader.read("ماذا ناقش الاجتماع؟" * 40, [long])
    assert len(spans) == 1 and spans[0].end <= len(long)
    assert reader.read("سؤال؟", []) == []


def test_weights_trained_over_another_base_are_refused(tmp_path, base_dir):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(R.WEIGHTS_FILE), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    bad = tmp_path / "other-base.safetensors"
    save_file(tensors, str(bad), metadata={**meta, "base_sha256": "0" * 64})
    with pytest.raises(R.ReaderMismatch, match="trained over base model 000000000000"):
        R.Reader(base_dir, bad).read("من؟", ["نص."])

    # a base directory whose weights differ from the ones the reader was trained over
    other = tmp_path / "base"
    shutil.copytree(base_dir, other)
    marker = other / "sanad_build.json"
    marker.write_text(marker.read_text().replace(R.base_sha256(base_dir), "f" * 64))
    with pytest.raises(R.ReaderMismatch, match="retrain them with training/reader.py"):
        R.Reader(other).read("من؟", ["نص."])


def test_missing_weights_file_is_named(tmp_path, base_dir):
    with pytest.raises(FileNotFoundError, match="reader weights missing"):
        R.Reader(base_dir, tmp_path / "none.safetensors").read("من؟", ["نص."])


def test_bfloat16_reads_the_spans_float32_reads(base_dir):
    """The reader's arithmetic (reader_dtype) changes its speed, not its answers here."""
    windows = [
        "وقع الاتفاقية عن الجانب الروسي وزير الداخلية فلاديمير كولوكولتسيف في طهران يوم الأحد.",
        "شاركت في المعرض 900 دار نشر من 32 دولة، وزاره أكثر من مليون شخص خلال عشرة أيام.",
        "The agreement was signed in Tehran by the two interior ministers on Sunday.",
    ]
    question = "من وقع الاتفاقية؟"
    f32 = R.Reader(base_dir, dtype="float32").read(question, windows)
    b16 = R.Reader(base_dir, dtype="bfloat16").read(question, windows)
    assert [(s.start, s.end) for s in b16] == [(s.start, s.end) for s in f32]
    assert max(abs(a.margin - b.margin) for a, b in zip(f32, b16)) < 0.5
    assert R.resolve_dtype("auto") == ("bfloat16" if R.native_bf16() else "float32")
    with pytest.raises(ValueError, match="reader_dtype must be"):
        R.resolve_dtype("int8")


def test_readers_loading_at_once_each_get_one_dtype(base_dir, tmp_path, cache_dir):
    """transformers changes torch's process-wide default dtype while it builds a model: loads
    at the same moment (bot workers on their first question, an ingestion loading the
    embedding model) must still give every model a single dtype and leave the default as it was."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from config import load_settings
    from embeddings import Embedder

    embedder = Embedder(load_settings(home=tmp_path, cache_dir=str(cache_dir)))
    readers = [R.Reader(base_dir, dtype="bfloat16") for _ in range(3)]
    with ThreadPoolExecutor(4) as pool:
        done = [pool.submit(r.read, "من وقع الاتفاقية؟", ["وقع الوزير الاتفاقية في طهران."]) for r in readers]
        done.append(pool.submit(lambda: embedder.model))
        for f in done:
            f.result()
    for r in readers:
        assert {p.dtype for p in r._model.parameters()} == {torch.bfloat16}
    assert torch.get_default_dtype() == torch.float32







