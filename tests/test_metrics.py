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


def test_refusal_recall_is_also_given_without_the_questions_on_indexed_titles(tmp_path):
    import json

    from rag.evaluation import as_unanswerable, read_squad

    def para(title, q):
        return {"title": title, "paragraphs": [{"context": "نص", "qas": [
            {"id": q, "question": "سؤال؟", "answers": [{"text": "نص", "answer_start": 0}]}]}]}

    path = tmp_path / "other.json"
    path.write_text(json.dumps({"data": [para("نجيب محفوظ", "1"), para("الصين", "2"), para("القمر", "3")]}))
    _, asked = read_squad(path)
    refuse = as_unanswerable(asked)
    assert [q.about for q in refuse] == ["نجيب محفوظ", "الصين", "القمر"] and not any(q.sources for q in refuse)
    rows = [{"gold_sources": ["نجيب_محفوظ/0"], "gold_rank": 1, "answerable": True, "about": "نجيب محفوظ", "abstained": False,
             "latency_ms": 1.0, "type": "who"}]
    rows += [{"gold_sources": [], "answerable": False, "about": q.about, "abstained": refused, "latency_ms": 1.0,
              "type": "who"} for q, refused in zip(refuse, (False, True, False))]
    ab = summarize(rows)["abstention"]
    assert ab["recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert ab["recall_other_titles"] == 0.5 and ab["to_refuse_on_indexed_titles"] == 1
    plain = summarize([{**r, "about": ""} for r in rows])["abstention"]
    assert "recall_other_titles" not in plain


def test_squad_paragraphs_are_numbered_per_title_across_entries(tmp_path):
    """TyDi gives each passage an entry of its own under its article's title: every passage is
    an article with an id of its own, and a passage repeated under its title is one article."""
    import json

    from rag.evaluation import read_squad

    def entry(title, context, q):
        return {"title": title, "paragraphs": [{"context": context, "qas": [
            {"id": q, "question": "سؤال؟", "answers": [{"text": context[:3], "answer_start": 0}]}]}]}

    path = tmp_path / "tydi.json"
    path.write_text(json.dumps({"data": [entry("جورجيا", "نص أول", "1"), entry("جورجيا", "نص ثان", "2"),
                                         entry("جورجيا", "نص أول", "3"), entry("القمر", "نص", "4")]}))
    articles, asked = read_squad(path)
    assert [a.doc_id for a in articles] == ["جورجيا/0", "جورجيا/1", "القمر/0"]
    assert [a.text for a in articles][:2] == ["نص أول", "نص ثان"]
    assert [q.sources for q in asked] == [["جورجيا/0"], ["جورجيا/1"], ["جورجيا/0"], ["القمر/0"]]


def _row(**kw):
    base = {"gold_sources": ["a"], "gold_rank": 1, "answerable": True, "abstained": False, "latency_ms": 1.0,
            "type": "who", "f1": 1.0, "exact_match": 1.0, "sentence_contains": 1.0}
    return base | kw


def test_citation_precision_counts_sources_holding_a_gold_answer_over_answered_questions():
    rows = [
        _row(sources=1, sources_with_answer=1, related=2),  # one source, it holds the answer
        _row(sources=3, sources_with_answer=1, related=0),  # two sources that do not
        _row(abstained=True, sources=0, related=1, f1=0.0, exact_match=0.0, sentence_contains=0.0),
        _row(answerable=False, gold_sources=[], sources=2, related=0),  # answered though unanswerable: no gold
    ]
    c = summarize(rows)["citations"]
    assert c["precision"] == pytest.approx(2 / 4)
    assert c["sources_per_answer"] == pytest.approx((1 + 3 + 2) / 3)
    assert c["related_per_answer"] == pytest.approx(2 / 3, abs=1e-4)
    assert summarize([_row(abstained=True, sources=0)])["citations"]["precision"] is None


def test_by_variety_only_when_the_set_names_varieties():
    rows = [_row(variety="msa"), _row(variety="egyptian", f1=0.5, abstained=True), _row(variety="egyptian", f1=0.0)]
    v = summarize(rows)["by_variety"]
    assert v["msa"]["n"] == 1 and v["msa"]["f1"] == 1.0 and v["msa"]["false_abstain_rate"] == 0.0
    assert v["egyptian"]["n"] == 2 and v["egyptian"]["f1"] == 0.25 and v["egyptian"]["false_abstain_rate"] == 0.5
    assert "by_variety" not in summarize([_row()])


def test_jsonl_questions_keep_their_variety(tmp_path):
    from rag.evaluation import as_unanswerable, read_questions

    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "1", "question": "مين وقع؟", "answers": ["س"], "variety": "egyptian"}\n'
                    '{"id": "2", "question": "من وقع؟", "answers": ["س"]}\n', encoding="utf-8")
    qs = read_questions(path)
    assert [q.variety for q in qs] == ["egyptian", ""]
    assert as_unanswerable(qs)[0].variety == "egyptian"
