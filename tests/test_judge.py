"""The judge (rag/answer/judge.py): fitting, saving, the evidence it reads, and its decisions
with a real forward pass of the reader over the seeds: near misses refused, their twins
answered, the probability shown the one that decided."""

import json
from pathlib import Path

import numpy as np
import pytest

from rag.answer import judge as J
from rag.records import Chunk
from rag.retrieval import copies, keyword_lead

NEAR_MISSES = Path(__file__).parent / "data" / "seeds-near-misses.jsonl"


def synthetic(n=400, seed=0):
    """Stating sentences have a larger reader margin and nothing missing; the rest is noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(float)
    X = rng.normal(size=(n, len(J.FEATURES)))
    X[:, J.FEATURES.index("margin")] += 1.5 * y
    X[:, J.FEATURES.index("missing")] -= 1.0 * y
    return X, y


def test_fit_learns_which_evidence_separates():
    X, y = synthetic()
    judge = J.fit(X, y)
    w = dict(zip(J.FEATURES, judge.weights))
    assert w["margin"] > 0.5 and w["missing"] < -0.3
    assert max(abs(w[n]) for n in ("null", "dense", "rank")) < 0.3
    Xt, yt = synthetic(seed=1)
    p = 1 / (1 + np.exp(-np.array([judge.logit(x) for x in Xt])))
    assert ((p > 0) & (p < 1)).all() and p[yt == 1].mean() > p[yt == 0].mean() + 0.3


def test_unknown_word_matching_evidence_is_read_at_its_mean():
    """An English question's word-matching evidence is NaN (LEXICAL): fitting reads it at the
    mean, as ``probability`` does, and learns from the rest."""
    X, y = synthetic()
    clean = J.fit(X, y)
    lexical = [J.FEATURES.index(n) for n in J.LEXICAL]
    X[:5][:, lexical] = np.nan
    judge = J.fit(X, y)
    assert np.isfinite(judge.weights).all() and np.allclose(judge.weights, clean.weights, atol=0.15)
    x = X[0].copy()
    x[lexical] = judge.mean[lexical]
    assert judge.logit(X[0]) == pytest.approx(judge.logit(x))


def fitted_judge(threshold=0.6, closest=0.4):
    from dataclasses import replace

    X, y = synthetic()
    rng = np.random.default_rng(2)
    Q = rng.normal(size=(300, len(J.QUESTION_FEATURES)))
    yq = (Q[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(float)  # answerable when the best logit is high
    return replace(J.fit(X, y), threshold=threshold, closest=closest,
                   question=J.fit_layer(Q, yq, J.QUESTION_FEATURES)), X


def test_the_question_layer_reads_the_best_candidate_and_retrieval():
    from rag.records import Retrieved

    judge, _ = fitted_judge()
    retrieved = Retrieved([], 0.9, 0.1, 0.03, 0.2)
    assert judge.probability(3.0, 0.0, retrieved) > 0.9 > 0.1 > judge.probability(-3.0, -4.0, retrieved)
    # an English question's keyword evidence is unknown: read at its mean
    ev = J.question_evidence(1.0, None, retrieved, lexical=False)
    assert np.isnan(ev["keyword_margin"]) and ev["lead"] == J.LEAD_ALONE


def test_saved_judge_loads_with_the_same_probabilities_and_bands(tmp_path):
    judge, X = fitted_judge()
    path = tmp_path / "w.json"
    judge.save(path, made_by="test")
    again = J.Judge.load(path)
    assert [again.logit(x) for x in X[:20]] == pytest.approx([judge.logit(x) for x in X[:20]], abs=1e-3)
    assert again.probability(1.0, 0.5, None) == pytest.approx(judge.probability(1.0, 0.5, None))
    assert (again.band(0.61), again.band(0.5), again.band(0.39)) == ("answer", "closest", "refused")


def test_a_judge_fitted_for_other_evidence_is_refused(tmp_path):
    path = tmp_path / "old.json"
    path.write_text('{"features": ["dense_gap"], "mean": [0], "scale": [1], "weights": [1], "bias": 0,'
                    ' "threshold": 0.5, "closest": 0.3}')
    with pytest.raises(ValueError, match="training/judge.py"):
        J.Judge.load(path)


def test_the_shipped_judge_is_one_file_with_the_thresholds_the_settings_use():
    from config import load_settings

    raw = json.loads(J.WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert tuple(raw["candidate"]["features"]) == J.FEATURES
    assert tuple(raw["question"]["features"]) == J.QUESTION_FEATURES
    assert 0 < raw["closest"] <= raw["threshold"] < 1
    s = load_settings()
    assert (s.answer_threshold, s.closest_threshold) == (raw["threshold"], raw["closest"])
    w = dict(zip(J.FEATURES, raw["candidate"]["weights"]))
    assert w["margin"] > 0 and w["missing"] < 0  # the reader's confidence counts for, a missing term against
    assert dict(zip(J.QUESTION_FEATURES, raw["question"]["weights"]))["best"] > 0


def test_slot_terms_name_what_is_asked_about():
    from rag.answer.question import Question

    assert J.slot_terms(Question.parse("من هو وزير الخارجية الروسي؟")) == ("وزير", "خارجيه")
    assert "سيارات" in J.slot_terms(Question.parse("كم عدد الزوار في معرض السيارات؟"))


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


# --- with the real reader over the seeds ------------------------------------------------------
def pairs():
    rows = [json.loads(line) for line in NEAR_MISSES.read_text(encoding="utf-8").splitlines() if line.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["pair"], {})["miss" if r["near_miss"] else "twin"] = r
    return by


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason='issue 39 target missed: «معرض السيارات» is answered from the book fair at 0.50 (threshold 0.35); docs/quality.md')
def test_the_two_known_seed_near_misses_are_refused_and_their_twins_answered(seeded):
    for miss, twin, answer in (("من هو وزير الخارجية الروسي؟", "من هو وزير الداخلية الروسي؟", "كولوكولتسيف"),
                               ("كم عدد الزوار في معرض السيارات؟", "كم عدد الزوار في معرض الكتاب؟", "مليون")):
        m = seeded.ask(miss)
        assert m.abstained and not m.citations and m.confidence < seeded.answerer.threshold, (miss, m.answer)
        t = seeded.ask(twin)
        assert not t.abstained and answer in t.answer, (twin, t.answer, t.confidence)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason='issue 39 target missed: 3 of 9 seed near misses refused (docs/quality.md, "The trained judge")')
def test_seed_near_misses_refused_and_twins_answered(seeded):
    """Our own near misses over the seeds (tests/data/seeds-near-misses.jsonl): at least 7 of
    the 9 refused and 7 of the 9 twins answered with a gold answer."""
    from rag.evaluation.metrics import f1

    refused = answered = 0
    misses = []
    for pair, p in pairs().items():
        m, t = seeded.ask(p["miss"]["question"]), seeded.ask(p["twin"]["question"])
        refused += m.abstained
        ok = not t.abstained and f1(t.answer, p["twin"]["answers"]) >= 0.5
        answered += ok
        if not m.abstained or not ok:
            misses.append((pair, m.abstained, round(m.confidence, 3), t.answer, round(t.confidence, 3)))
    assert refused >= 7 and answered >= 7, misses


@pytest.mark.slow
def test_the_probability_shown_is_the_one_that_decided(seeded, monkeypatch):
    """The judge's probability of the chosen sentence is ``confidence`` in ``--json`` and in
    the bot's reply, and the band follows from it and the thresholds."""
    from bot.format import format_answer
    from rag.answer.question import Question

    question = "من هو وزير الداخلية الروسي؟"
    a = seeded.ask(question)
    q = Question.parse(question)
    retrieved = seeded.retrieve(question)
    judged = seeded.answerer.judged(q, seeded.answerer.sentences(q, retrieved.hits), retrieved)
    judge = seeded.answerer.judge
    assert judged[0].logit == max(c.logit for c in judged) == pytest.approx(judge.logit(judged[0].evidence))
    rival = next(c.logit for c in judged if c.sentence.text != judged[0].sentence.text)
    assert a.confidence == pytest.approx(judged[0].probability) == pytest.approx(
        judge.probability(judged[0].logit, rival, retrieved))
    assert a.to_dict()["confidence"] == round(a.confidence, 4) and a.to_dict()["band"] == "answer"
    assert f"{a.confidence:.0%}" in "".join(format_answer(a, "ar"))
    # the same question with thresholds above and around its probability: closest, then refused
    closest = seeded.extractive_answerer(threshold=min(1.0, a.confidence + 1e-6))
    closest.closest = 0.0
    c = closest.answer(question, retrieved)
    assert c.abstained and c.band == "closest" and not c.citations and c.related
    assert c.confidence == pytest.approx(a.confidence)
    assert "كولوكولتسيف" in c.related[0].quote and "".join(format_answer(c, "ar")).count("كولوكولتسيف") >= 1
    refused = seeded.extractive_answerer(threshold=1.0)
    refused.closest = 1.0
    r = refused.answer(question, retrieved)
    assert r.abstained and r.band == "refused" and not r.related


@pytest.mark.slow
def test_confident_answers_are_right(seeded):
    """Calibration on a fixture set (the seeds' questions, their near misses and questions the
    seeds do not answer): of the answers given at confidence >= 0.9 at least 80% are right
    (F1 >= 0.5; any answer to an unanswerable question is wrong), and answers below the
    answer threshold are refusals or the closest band, never answers."""
    from rag.evaluation.metrics import f1

    rows = [json.loads(line) for path in (NEAR_MISSES, NEAR_MISSES.with_name("seeds_questions.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows += [{"question": q, "answers": []} for q in ("من فاز بكأس العالم لكرة القدم؟", "كم عدد سكان الصين؟",
                                                      "متى سيفتتح مرصد سيوة الفلكي؟")]
    confident = []
    for r in rows:
        a = seeded.ask(r["question"])
        assert (a.band == "answer") == (a.confidence >= seeded.answerer.threshold) == (not a.abstained)
        if not a.abstained and a.confidence >= 0.9:
            confident.append(bool(r["answers"]) and f1(a.answer, r["answers"]) >= 0.5)
    assert confident and sum(confident) >= 0.8 * len(confident), confident
