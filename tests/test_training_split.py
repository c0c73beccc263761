"""How training/reader.py splits ARCD-train: the shipped reader's held-out share, and the
folds whose readers stand in for it when the refusal model and the answer stage are measured."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.reader_data import build_examples, fold_of, parse_fold  # noqa: E402

CONTEXT = "وقع الوزير الاتفاقية في طهران. وحضر السفير المراسم."


def squad(path: Path, titles: list[str]) -> str:
    qas = lambda t: [{"id": t, "question": "أين وقع الوزير الاتفاقية؟",  # noqa: E731
                      "answers": [{"text": "طهران", "answer_start": CONTEXT.index("طهران")}]}]
    path.write_text(json.dumps({"data": [{"title": t, "paragraphs": [{"context": CONTEXT, "qas": qas(t)}]}
                                         for t in titles]}, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_each_fold_reader_is_blind_to_its_fold_and_trained_on_the_rest(tmp_path):
    titles = [f"مقال {i}" for i in range(40)]
    path = squad(tmp_path / "arcd-train.json", titles)
    folds = {t: fold_of(t, 2) for t in titles}
    assert set(folds.values()) == {0, 1}  # both folds hold titles
    for k in (0, 1):
        train, dev = build_examples([path], 0.2, 13, 0.0, 1.0, 0, parse_fold(f"{k}/2"))
        assert sorted(d[0] for d in dev) == sorted(t for t in titles if folds[t] == k)
        # every training window is one of the other fold's questions (one positive, maybe a negative each)
        positives = [w for w in train if w[2] >= 0]
        assert len(positives) == sum(1 for t in titles if folds[t] != k)


def test_fold_split_is_deterministic_and_fold_arguments_are_checked(tmp_path):
    assert [fold_of("نجيب محفوظ", 2) for _ in range(3)] == [fold_of("نجيب محفوظ", 2)] * 3
    assert parse_fold("") is None and parse_fold("1/2") == (1, 2)
    with pytest.raises(SystemExit, match="K must be in"):
        parse_fold("2/2")
    with pytest.raises(SystemExit, match="never trained on"):
        build_examples([squad(tmp_path / "arcd-test.json", ["x"])], 0.2, 13, 0.0, 1.0, 0, None)


def test_retrieved_negatives_come_from_other_training_articles_and_lack_the_answer(tmp_path):
    """--retrieved: the sentence of another article sharing most with the question, never one of
    the held-out titles (their text stays unseen) and never one holding the answer."""
    cities = ["طهران", "موسكو", "بغداد", "دمشق", "القاهرة", "الرياض", "عمان", "تونس", "الجزائر", "الرباط",
              "بيروت", "الدوحة"]
    data = []
    for i, city in enumerate(cities):
        context = f"وقع الوزير الاتفاقية في {city}. وحضر السفير المراسم."
        data.append({"title": f"مقال {i}", "paragraphs": [{"context": context, "qas": [{
            "id": str(i), "question": "أين وقع الوزير الاتفاقية؟",
            "answers": [{"text": city, "answer_start": context.index(city)}]}]}]})
    path = tmp_path / "arcd-train.json"
    path.write_text(json.dumps({"data": data}, ensure_ascii=False), encoding="utf-8")
    plain, _ = build_examples([str(path)], 0.2, 13, 0.0, 0.0, 0, parse_fold("0/2"))
    train, dev = build_examples([str(path)], 0.2, 13, 0.0, 0.0, 0, parse_fold("0/2"), retrieved=1.0)
    assert all(w[2] >= 0 for w in plain)  # no same-paragraph negatives asked for
    assert len(train) == 2 * len(plain)  # each training question: its window, then its retrieved negative
    held = {d[0] for d in dev}
    assert held and len(held) < len(cities)
    city_of = {f"وقع الوزير الاتفاقية في {c}.": c for c in cities}
    title_of = {c: f"مقال {i}" for i, c in enumerate(cities)}
    for positive, negative in zip(train[::2], train[1::2]):
        own = positive[1][positive[2] : positive[3]]
        assert negative[2:] == (-1, -1) and negative[1] in city_of  # the other signing, not «وحضر السفير»
        assert city_of[negative[1]] != own  # never the question's own answer ...
        assert title_of[city_of[negative[1]]] not in held  # ... nor a held-out article's text


def test_passage_windows_are_the_paragraphs_chunks_and_unanswerable_questions_train_no_answer(tmp_path):
    """--passages CHARS: the windows are chunk_article's chunks of the paragraph (what the
    pipeline stores and reads), the one holding the answer a positive whose offsets slice the
    answer, the others "no answer"; SQuAD v2 unanswerable questions give only "no answer"
    windows; 'PATH:CAP' caps one file."""
    from rag.chunking import chunk_article
    from rag.records import Article

    sentences = [f"الجملة رقم {i} تتحدث عن موضوع مختلف في المدينة." for i in range(12)]
    sentences[7] = "وقع الوزير الاتفاقية في طهران يوم الأحد."
    context = " ".join(sentences)
    answer = "طهران"
    data = {"data": [
        {"title": f"مقال {i}", "paragraphs": [{"context": context, "qas": [
            {"id": f"a{i}", "question": "أين وقع الوزير الاتفاقية؟",
             "answers": [{"text": answer, "answer_start": context.index(answer)}]},
            {"id": f"u{i}", "question": "متى افتتح المطار؟", "answers": [], "is_impossible": True}]}]}
        for i in range(6)]}
    path = tmp_path / "squad-v2.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    chunks = chunk_article(Article(doc_id="p", title="", text=context), 200, 1)
    assert len(chunks) > 2

    train, dev = build_examples([str(path)], 0.2, 13, 0.0, 1.0, 0, None, passage_chars=200)
    assert not dev  # held-out shares are ARCD-train's alone
    answerable = [w for w in train if w[0].startswith("أين")]
    positives = [w for w in answerable if w[2] >= 0]
    assert len(positives) == 6 and all(w[1][w[2] : w[3]] == answer for w in positives)
    assert all(w[1] in {c.text for c in chunks} for w in train)  # whole chunks, as stored
    negatives = [w for w in answerable if w[2] < 0]
    assert negatives and all(answer not in w[1] for w in negatives)
    unanswerable = [w for w in train if w[0].startswith("متى")]
    assert len(unanswerable) == 6 * len(chunks) and all(w[2:] == (-1, -1) for w in unanswerable)

    # --negatives samples the answerable questions' other chunks; an unanswerable one keeps them all
    sampled, _ = build_examples([str(path)], 0.2, 13, 0.0, 0.0, 0, None, passage_chars=200)
    assert all(w[2] >= 0 for w in sampled if w[0].startswith("أين"))
    assert sum(1 for w in sampled if w[0].startswith("متى")) == 6 * len(chunks)

    # the sentence windows (default) skip unanswerable questions, as the shipped reader was trained
    plain, _ = build_examples([str(path)], 0.2, 13, 0.0, 1.0, 0, None)
    assert not any(w[0].startswith("متى") for w in plain)
    capped, _ = build_examples([f"{path}:2"], 0.2, 13, 0.0, 1.0, 0, None, passage_chars=200)
    assert len({w[0] for w in capped}) <= 2 and len(capped) <= 2 * len(chunks)
