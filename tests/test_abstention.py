"""The abstention model: fitting, saving, the features it reads, and its decisions on the seeds."""

import numpy as np
import pytest

from rag.answer import refusal as abstention
from rag.records import Chunk, Retrieved
from rag.retrieval import copies, keyword_lead


def synthetic(n=400, seed=0):
    """Answerable questions have a larger gap and coverage; the other two features are noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(float)
    X = rng.normal(size=(n, len(abstention.FEATURES)))
    X[:, 0] += 1.5 * y
    X[:, 1] += 1.0 * y
    return X, y


def test_fit_learns_which_features_separate_and_ranks_answerable_higher():
    X, y = synthetic()
    model = abstention.fit(X, y)
    assert model.weights[0] > model.weights[1] > max(abs(model.weights[2]), abs(model.weights[3]))
    Xt, yt = synthetic(seed=1)
    p = np.array([model.probability(x) for x in Xt])
    assert ((p > 0) & (p < 1)).all()
    assert p[yt == 1].mean() > p[yt == 0].mean() + 0.3


def test_rows_with_unknown_word_matching_signals_do_not_spoil_the_fit():
    """A dialect question's coverage and keyword margin are NaN (refusal.LEXICAL): fitting over
    such rows reads them at the mean, as ``probability`` does, and learns from the rest."""
    X, y = synthetic()
    clean = abstention.fit(X, y)
    lexical = [abstention.FEATURES.index(n) for n in abstention.LEXICAL]
    X[:5][:, lexical] = np.nan
    model = abstention.fit(X, y)
    assert np.isfinite(model.weights).all() and np.isfinite(model.mean).all() and np.isfinite(model.bias)
    assert np.allclose(model.weights, clean.weights, atol=0.15)
    assert 0 < model.probability(X[0]) < 1


def test_saved_model_loads_with_the_same_probabilities(tmp_path):
    X, y = synthetic()
    model = abstention.fit(X, y)
    path = tmp_path / "w.json"
    model.save(path, made_by="test")
    again = abstention.AbstentionModel.load(path)
    assert [round(again.probability(x), 3) for x in X[:20]] == [round(model.probability(x), 3) for x in X[:20]]


def test_a_model_fitted_for_other_features_is_refused(tmp_path):
    path = tmp_path / "old.json"
    path.write_text('{"features": ["dense_gap"], "mean": [0], "scale": [1], "weights": [1], "bias": 0}')
    with pytest.raises(ValueError, match="bench/tune.py"):
        abstention.AbstentionModel.load(path)


def test_features_read_the_retrieval_evidence_in_order():
    r = Retrieved([], dense_top=0.9, dense_gap=0.12, dense_spread=0.04, keyword_margin=0.3)
    sig = abstention.signals(r, 0.75, 2.5)
    assert list(abstention.features(sig)) == pytest.approx([0.12, 0.75, 0.04, 0.3])
    assert list(abstention.features(sig, abstention.READER_FEATURES)) == pytest.approx([0.12, 0.75, 0.04, 0.3, 2.5])


def test_keyword_lead_ignores_the_best_articles_own_chunks():
    assert keyword_lead([("a", 9.0), ("a", 8.5), ("b", 4.0), ("c", 1.0)]) == 5.0
    assert keyword_lead([("a", 2.0)]) == 2.0
    assert keyword_lead([]) == 0.0


def chunk(doc: str, text: str) -> Chunk:
    return Chunk(f"{doc}:0", doc, doc, text, 0, len(text), "", 0)


LEAD = "قال وزير النقل إن الخط الجديد سينقل نحو عشرة ملايين راكب سنويا."
BYLINE = "جميع الحقوق محفوظة لوكالة الأنباء العربية المستقلة للنشر والتوزيع."


def test_copies_are_documents_repeating_a_long_sentence_but_not_boilerplate():
    top = chunk("a", f"{LEAD} وأضاف أن التذاكر ستكون رخيصة. {BYLINE}")
    others = [
        chunk("b", f"نقلت الوكالة الخبر. {LEAD}"),  # republished
        chunk("c", "افتتح الوزير اليوم معرضا للكتاب في المدينة بحضور عدد من الكتاب والناشرين."),
        chunk("d", "وأضاف أن التذاكر ستكون رخيصة."),  # a short sentence is no evidence of copying
    ] + [chunk(f"x{i}", f"خبر آخر رقم {i} عن موضوع مختلف تماما في مكان بعيد جدا. {BYLINE}") for i in range(6)]
    assert copies(others, top) == {"a", "b"}
    assert keyword_lead([("a", 9.0), ("b", 8.9), ("c", 3.0)], copies(others, top)) == pytest.approx(6.0)


def test_a_republished_article_backs_the_answer_instead_of_competing(make_sanad, tmp_path):
    """Syndicated news: the same story under other ids must not make its questions refused."""
    from config import SEEDS_DIR
    from rag.loaders import load_corpus
    from rag.records import Article

    sanad = make_sanad(corpus="")
    seeds = [a for a in load_corpus(SEEDS_DIR, 10**7) if isinstance(a, Article)]
    russia = next(a for a in seeds if a.doc_id == "asharq-russia-iran-security")
    copies_ = [Article(doc_id=f"copy{i}", title=f"نقلا عن الوكالة {i}", text=f"نقلت وكالة أخرى ما يلي.\n{russia.text}")
               for i in range(3)]
    sanad.ingest_articles(seeds + copies_)
    a = sanad.ask("من هو وزير الداخلية الروسي؟")
    assert not a.abstained, a.confidence
    assert "كولوكولتسيف" in a.answer
    assert sanad.ask("كم عدد سكان الصين؟").abstained


def test_shipped_model_answers_seeds_questions_and_refuses_others(seeded):
    threshold = seeded.answerer.threshold  # the reader's own threshold (abstain_threshold_reader)
    assert threshold == seeded.settings.abstain_threshold_reader
    answerable = ["من هو محافظ البنك المركزي؟", "كم طول خط السكة الحديد السريع؟", "ما سعر الفائدة الذي قرره البنك المركزي؟"]
    other = ["كم عدد سكان الصين؟", "متى سيفتتح مرصد سيوة الفلكي؟"]
    for q in answerable:
        a = seeded.ask(q)
        assert not a.abstained and threshold <= a.confidence <= 1, q
    for q in other:
        a = seeded.ask(q)
        assert a.abstained and 0 <= a.confidence < threshold, q
