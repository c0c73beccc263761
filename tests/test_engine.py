"""The core engine over the real model and a real (embedded) Chroma."""

import pytest

from config import SEEDS_DIR
from rag import IndexMismatch, QuestionError
from rag.loaders import load_corpus
from rag.records import Article


def originals():
    return {a.doc_id: a for a in load_corpus(SEEDS_DIR, 10**7) if isinstance(a, Article)}


def check_quotes(answer):
    texts = originals()
    for c in answer.citations:
        assert texts[c.doc_id].text[c.start : c.end] == c.quote


def test_who_is_the_russian_interior_minister(seeded):
    a = seeded.ask("من هو وزير الداخلية الروسي؟")
    assert not a.abstained
    assert "كولوكولتسيف" in a.answer
    assert "كولوكولتسيف" in a.citations[0].quote
    check_quotes(a)


@pytest.mark.xfail(strict=True, reason="the subject-of-the-asked-verb rule is gone (issue 39): the reader's best span is the agreement, the object; «رئيسي جهازي الشرطة» is its third-best span, 6.7 logits behind. A reader training example, not a rule")
def test_who_signed_the_police_agreement(seeded):
    a = seeded.ask("من وقع اتفاقية التعاون بين شرطة البلدين؟")
    assert not a.abstained
    assert "رئيسي جهازي الشرطة" in a.citations[0].quote
    assert a.answer == "رئيسي جهازي الشرطة في كل من البلدين"
    assert a.citations[0].doc_id == "asharq-russia-iran-security"
    check_quotes(a)


def test_how_much_question_finds_the_sentence_of_the_measured_noun(seeded):
    # «تبلغ 120 ألف متر مكعب» shares more words with the question; the cost is «تكلفتها بلغت».
    # Which sentence, not whether to refuse: an answerer that never refuses
    q = "كم تبلغ تكلفة محطة التحلية؟"
    a = seeded.extractive_answerer(threshold=0.0).answer(q, seeded.retrieve(q))
    assert not a.abstained
    assert "310 ملايين دولار" in a.answer and "310" in a.citations[0].quote
    check_quotes(a)


def test_unanswerable_question_abstains(seeded):
    a = seeded.ask("من فاز بكأس العالم لكرة القدم؟")
    assert a.abstained
    assert a.citations == []
    assert "لا أجد" in a.answer


def test_other_articles_answer_from_their_own_source(seeded):
    a = seeded.ask("كم تبلغ الطاقة الإنتاجية لمحطة تحلية المياه في الريان؟")
    assert not a.abstained and "120" in a.answer
    assert a.citations[0].doc_id == "sanad-demo-desalination"
    check_quotes(a)


@pytest.mark.parametrize(
    "question",
    ["ما سعر الفائدة الذي قرره البنك المركزي؟", "مَنْ هُوَ وَزِيرُ الدَّاخِلِيَّةِ الرُّوسِيُّ؟", "متى دشن خط السكة الحديد؟"],
)
def test_every_quote_is_exact_original_text(seeded, question):
    a = seeded.ask(question)
    assert a.citations
    check_quotes(a)
    assert len({(c.doc_id, c.start) for c in a.citations}) == len(a.citations)


def test_full_tashkeel_question_finds_the_same_answer(seeded):
    plain = seeded.ask("من هو وزير الداخلية الروسي؟")
    voweled = seeded.ask("مَنْ هُوَ وَزِيرُ الدَّاخِلِيَّةِ الرُّوسِيُّ؟")
    assert voweled.citations[0].quote == plain.citations[0].quote


def test_empty_and_symbol_questions_are_refused_clearly(seeded):
    for q in ["", "   ", "؟؟!!", "🙂🙂", "\u200b\u200f"]:
        with pytest.raises(QuestionError, match="empty|no words"):
            seeded.ask(q)


def test_huge_question_is_truncated_with_a_notice(seeded):
    a = seeded.ask("من هو وزير الداخلية الروسي؟ " + "كلام " * 3000)
    assert a.notice and "1000" not in a.question[1000:]
    assert len(a.question) <= seeded.settings.max_question_chars


def test_reingest_embeds_nothing_and_keeps_the_count(make_sanad, corpus):
    sanad = make_sanad()
    first = sanad.ingest(corpus)
    count = sanad.store.count()
    assert len(first.added) == 6 and count == first.chunks_written
    again = sanad.ingest(corpus)
    assert again.passages_embedded == 0 and again.chunks_written == 0
    assert sorted(again.unchanged) == sorted(first.added)
    assert sanad.store.count() == count


def test_editing_one_article_replaces_only_its_chunks(make_sanad, corpus):
    sanad = make_sanad()
    sanad.ingest(corpus)
    before = {cid: (doc, meta) for cid, doc, meta in sanad.store.iter_all()}
    path = corpus / "003_central_bank.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("4.5 في المائة", "5.25 في المائة"), encoding="utf-8")
    report = sanad.ingest(corpus)
    assert report.replaced == ["sanad-demo-central-bank"] and len(report.unchanged) == 5
    after = {cid: (doc, meta) for cid, doc, meta in sanad.store.iter_all()}
    assert set(after) == set(before)
    for cid in after:
        if cid.startswith("sanad-demo-central-bank:"):
            assert "5.25" in after[cid][0]
        else:
            assert after[cid] == before[cid]
    a = sanad.ask("ما سعر الفائدة الذي قرره البنك المركزي؟")
    assert "5.25" in a.citations[0].quote


def test_prune_removes_deleted_articles(make_sanad, corpus):
    sanad = make_sanad()
    sanad.ingest(corpus)
    (corpus / "005_rail_line.txt").unlink()
    report = sanad.ingest(corpus, prune=True)
    assert report.removed == ["sanad-demo-rail-line"]
    assert "sanad-demo-rail-line" not in sanad.doc_ids()
    a = sanad.ask("كم طول خط السكة الحديد السريع؟")
    assert all(c.doc_id != "sanad-demo-rail-line" for c in a.citations)


def test_index_built_with_another_model_is_detected(make_sanad, tmp_path, corpus):
    sanad = make_sanad(home=tmp_path / "h")
    sanad.ingest(corpus)
    other = make_sanad(home=tmp_path / "h")
    other.store.model_id = "some-other-model"
    with pytest.raises(IndexMismatch, match="sanad ingest --rebuild"):
        other.ask("من هو وزير الداخلية الروسي؟")


def test_keyword_index_follows_the_store_without_rebuilding(make_sanad, corpus, tmp_path):
    sanad = make_sanad(home=tmp_path / "h", keyword_refresh_seconds=0)
    sanad.ingest(corpus)
    kw = sanad.keyword()
    assert set(kw.ids) == {cid for cid, _, _ in sanad.store.iter_all()}
    sanad.remove("sanad-demo-book-fair")
    assert sanad.keyword() is kw  # updated in place, not rebuilt
    assert not any(i.startswith("sanad-demo-book-fair") for i in kw.ids)
    assert set(kw.ids) == {cid for cid, _, _ in sanad.store.iter_all()}

    # another engine on the same store catches up with a change it did not make
    other = make_sanad(home=tmp_path / "h", keyword_refresh_seconds=0)
    other_kw = other.keyword()
    sanad.ingest_articles([Article("late", "خبر متأخر عن مرصد سيوة", "قال مدير مرصد سيوة إن الافتتاح سيكون في عام 2029.")])
    assert other.keyword() is other_kw and "late:0" in other_kw.ids
    assert set(other_kw.ids) == {cid for cid, _, _ in sanad.store.iter_all()}
    assert other.ask("متى يفتتح مرصد سيوة؟").citations[0].doc_id == "late"


def test_changed_article_is_quoted_as_it_now_reads(make_sanad, tmp_path):
    """Chunks read for questions are kept in memory between questions; after a change made by
    this engine or by another one on the same store, questions get the article as it now reads."""
    a = make_sanad(home=tmp_path / "h", keyword_refresh_seconds=0)
    b = make_sanad(home=tmp_path / "h", keyword_refresh_seconds=0)
    q = "متى يفتتح مرصد سيوة؟"
    a.ingest_articles([Article("siwa", "مرصد سيوة", "قال مدير مرصد سيوة إن الافتتاح سيكون في عام 2029.")])
    assert "2029" in a.search(q)[0].chunk.text
    assert "siwa:0" in a.store._kept  # kept for the next question
    b.ingest_articles([Article("siwa", "مرصد سيوة", "قال مدير مرصد سيوة إن الافتتاح تأجل إلى عام 2031.")])
    text = a.search(q)[0].chunk.text
    assert "2031" in text and "2029" not in text
    a.ingest_articles([Article("siwa", "مرصد سيوة", "قال مدير مرصد سيوة إن الافتتاح تأجل مرة أخرى إلى عام 2033.")])
    assert "2033" in a.search(q)[0].chunk.text
    off = make_sanad(home=tmp_path / "h", chunk_cache=0)
    assert "2033" in off.search(q)[0].chunk.text and not off.store._kept


def test_incremental_keyword_scores_match_a_full_build():
    from rag.keyword import KeywordIndex

    docs = [(f"d{i}", t, str(i)) for i, t in enumerate(
        ["وزير الداخلية الروسي يزور طهران", "البنك المركزي يثبت سعر الفائدة", "محطة تحلية المياه في الريان",
         "وزير المياه يفتتح المحطة", "معرض الكتاب الدولي يختتم دورته", "وزير الداخلية يوقع اتفاقية"])]
    full = KeywordIndex.build(docs, "g")
    grown = KeywordIndex.build(docs[:4], "g0")
    grown.apply(docs[4:], [], "g")
    query = ["وزير", "داخليه"]
    a, b = full.score_map(query), grown.score_map(query)
    assert set(a) == set(b)
    for cid in a:
        assert abs(a[cid] - b[cid]) / a[cid] < 0.35
    grown.apply([], ["d5"], "g2")
    assert "d5" not in grown.score_map(query) and "d5" not in grown.ids


def test_sources_and_stats(seeded):
    docs = seeded.sources()
    assert len(docs) == 6 and all(d["chunks"] >= 1 for d in docs)
    st = seeded.stats()
    assert st["articles"] == 6 and st["chunks"] == sum(d["chunks"] for d in docs)
    assert "e5" in st["model"]


@pytest.mark.xfail(strict=True, reason='the judge prefers «ستة أشهر وخمس سنوات» (another duration, a closer sentence for the reader) to «أسبوعين»')
def test_duration_question_finds_the_sentence_with_a_duration(seeded):
    # «340 إصابة» is an amount in a sentence about the campaign too; «مدة» asks for a duration
    q = "ما هي مدة حملة التطعيم؟"
    a = seeded.extractive_answerer(threshold=0.0).answer(q, seeded.retrieve(q))
    assert not a.abstained
    assert "أسبوعين" in a.answer
    check_quotes(a)


def test_when_question_finds_a_month_named_without_a_year(seeded):
    # «مساء الجمعة» (when the fair closed) is a date too, in a sentence sharing «الدورة»
    a = seeded.ask("متى تقام الدورة المقبلة لمعرض الكتاب؟")
    assert not a.abstained
    assert "فبراير" in a.answer and a.citations[0].doc_id == "sanad-demo-book-fair"
    check_quotes(a)


def test_where_question_takes_the_place_after_the_preposition(seeded):
    # «مياه البحر» stems to «بحر», which once passed for a word behind the preposition ب
    a = seeded.ask("أين تقع محطة تحلية المياه؟")
    assert not a.abstained
    assert "الريان" in a.answer
    check_quotes(a)


def test_the_demo_leaves_when_the_user_adds_articles_any_way(make_sanad, tmp_path):
    from rag.records import Article

    sanad = make_sanad(home=tmp_path / "demo-home")
    sanad.ensure_ready()  # the bundled seeds, as on first use
    assert len(sanad.sources()) == 6 and all(d["demo"] for d in sanad.sources())
    # an upload, a feed or the API hands articles in without a file of ours: the demo goes too
    report = sanad.ingest_articles([Article("mine-1", "خبر", "افتتحت البلدية حديقة جديدة في الحي الشمالي.")])
    assert report.added == ["mine-1"] and len(report.demo_removed) == 6
    assert [d["doc_id"] for d in sanad.sources()] == ["mine-1"]
    again = sanad.ingest_articles([Article("mine-1", "خبر", "افتتحت البلدية حديقة جديدة في الحي الشمالي.")])
    assert again.unchanged == ["mine-1"] and again.demo_removed == []
