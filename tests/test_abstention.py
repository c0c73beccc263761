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


def test_the_size_correction_reads_evidence_from_a_larger_index_as_stronger(tmp_path):
    from dataclasses import replace

    X, y = synthetic()
    model = replace(abstention.fit(X, y), size_base=200.0, size_slope=0.5)
    r = Retrieved([], dense_gap=0.05, dense_spread=0.02, keyword_margin=0.1)
    at = {n: abstention.signals(replace(r, index_chunks=n), 0.4) for n in (9, 200, 2000, 20000)}
    p = {n: model.probability(sig) for n, sig in at.items()}
    assert p[9] == p[200] == replace(model, size_slope=0.0).probability(at[20000])  # not larger: unchanged
    assert p[200] < p[2000] < p[20000]
    logit = {n: np.log(v / (1 - v)) for n, v in p.items()}
    assert logit[20000] - logit[200] == pytest.approx(0.5 * np.log(100), rel=1e-6)
    path = tmp_path / "w.json"
    model.save(path, made_by="test")
    again = abstention.AbstentionModel.load(path)
    assert (again.size_base, again.size_slope) == (200.0, 0.5)
    assert again.probability(at[20000]) == pytest.approx(p[20000])


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



def filler_news(n: int, seed: int = 1):
    """Other news (templates of four kinds, one of them banking) to grow an index around the seeds."""
    import random

    from rag.records import Article

    topics = (
        ("بنك {city} التجاري", ["أعلن بنك {city} التجاري عن ارتفاع أرباحه الفصلية بنسبة {n} في المئة.",
                               "وقال رئيس مجلس إدارة البنك إن القروض الممنوحة للشركات الصغيرة زادت خلال العام.",
                               "وبلغت ودائع العملاء {n} مليار ريال بحسب البيان الصادر عن البنك."]),
        ("نادي {city} الرياضي", ["فاز نادي {city} على منافسه بنتيجة {k} مقابل هدف في الدوري المحلي.",
                                "وسجل المهاجم الهدف الحاسم في الدقيقة {n} من المباراة.",
                                "وأشاد المدرب بأداء اللاعبين الشباب في الشوط الثاني."]),
        ("طقس {city}", ["توقعت هيئة الأرصاد هطول أمطار غزيرة على مدينة {city} خلال الأيام المقبلة.",
                        "وقد تصل درجات الحرارة إلى {n} درجة مئوية في المناطق الداخلية.",
                        "ونصحت الهيئة السائقين بتوخي الحذر على الطرق السريعة بسبب الضباب."]),
        ("مستشفى {city}", ["افتتح مستشفى {city} العام قسما جديدا لعلاج أمراض القلب بسعة {n} سريرا.",
                           "وأجرى الفريق الطبي أكثر من {n} عملية جراحية منذ بداية العام.",
                           "ودعت وزارة الصحة المواطنين إلى إجراء الفحوص الدورية."]),
    )
    cities = ("جدة", "الرياض", "الدمام", "مكة", "المدينة", "أبها", "تبوك", "حائل", "جازان", "نجران", "الطائف", "بريدة")
    rng = random.Random(seed)
    out = []
    for i in range(n):
        title, sents = topics[i % len(topics)]
        city = rng.choice(cities)
        text = " ".join(s.format(city=city, n=rng.randint(5, 95), k=rng.randint(2, 5)) for s in sents)
        out.append(Article(doc_id=f"filler-{i}", title=f"{title.format(city=city)} {i}", text=text))
    return out


def test_answers_read_the_size_of_the_index_they_come_from(make_sanad, tmp_path):
    """Retrieval reports how many chunks it searched; the answerer's confidence applies the
    size correction for it, and only past the size the model was fitted at."""
    from dataclasses import replace

    from config import SEEDS_DIR
    from rag.loaders import load_corpus
    from rag.records import Article

    seeds = [a for a in load_corpus(SEEDS_DIR, 10**7) if isinstance(a, Article)]
    questions = ["من هو محافظ البنك المركزي؟", "كم عدد سكان الصين؟"]
    for grown in (False, True):
        sanad = make_sanad(home=tmp_path / f"grown-{grown}", corpus="")
        sanad.ingest_articles(seeds + (filler_news(120) if grown else []))
        n = sanad.store.count()
        shipped = sanad.answerer
        model = replace(shipped.model, size_base=60.0, size_slope=1.0)
        flat = replace(model, size_slope=0.0)
        for q in questions:
            r = sanad.retrieve(q)
            assert r.index_chunks == n
            sanad._answerer = sanad.extractive_answerer(shipped.reader, shipped.threshold, model=model)
            with_size = sanad.ask(q).confidence
            sanad._answerer = sanad.extractive_answerer(shipped.reader, shipped.threshold, model=flat)
            without = sanad.ask(q).confidence
            if not grown:  # the seeds alone: smaller than size_base, nothing changes
                assert n < 60 and with_size == without, q
            else:
                assert n > 60
                logit = lambda p: np.log(p / (1 - p))  # noqa: E731
                assert logit(with_size) - logit(without) == pytest.approx(np.log(n / 60), abs=1e-3), q
