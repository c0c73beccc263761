import pytest

from rag.evaluation import metrics, summarize


def test_mlqa_normalization_removes_article_punctuation_and_marks():
    assert metrics.normalize_answer("«القاهرةُ»، مصر!") == "قاهره مصر"
    assert metrics.exact_match("القاهرة", ["قاهرة"]) == 1.0
    assert metrics.exact_match("مدينة القاهرة", ["القاهرة"]) == 0.0


def test_f1_is_token_overlap_best_over_golds():
    assert metrics.f1("في عام 1958", ["1958"]) == pytest.approx(0.5)
    assert metrics.f1("1958", ["عام 1958", "1958"]) == 1.0
    assert metrics.f1("لا شيء", ["1958"]) == 0.0
    assert metrics.f1("", []) == 0.0


def test_contains_after_normalization():
    assert metrics.contains("وقّع الوزيرُ الاتفاقيةَ أمس.", ["الوزير الاتفاقية"]) == 1.0
    assert metrics.contains("وقع الوزير.", ["الرئيس"]) == 0.0


def test_ranks_hits_and_mrr():
    assert metrics.first_gold_rank(["a", "b", "c"], {"c"}) == 3
    assert metrics.first_gold_rank(["a"], {"z"}) is None
    ranks = [1, 3, None, 2]
    assert metrics.hit_at(ranks, 1) == 0.25
    assert metrics.hit_at(ranks, 3) == 0.75
    assert metrics.mrr(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert metrics.hit_at([], 1) is None and metrics.mrr([]) is None


def test_abstention_accounting_and_nulls():
    out = metrics.abstention([False, False, True, False], [True, True, False])
    assert out == {"precision": 2 / 3, "recall": 2 / 3, "false_abstain_rate": 0.25}
    none = metrics.abstention([False, False], [])
    assert none["recall"] is None and none["precision"] is None and none["false_abstain_rate"] == 0.0


def test_summary_has_nulls_when_nothing_to_measure():
    row = {"gold_sources": [], "answerable": False, "abstained": True, "latency_ms": 5.0, "type": "who"}
    rep = summarize([row])
    assert rep["retrieval"] == {"hit@1": None, "hit@3": None, "hit@5": None, "mrr": None}
    assert rep["answer"] == {"exact_match": None, "f1": None, "sentence_contains": None}
    assert rep["abstention"]["recall"] == 1.0 and rep["abstention"]["false_abstain_rate"] is None
