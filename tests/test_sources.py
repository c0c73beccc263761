"""Sources are the passages that state the answer; the other retrieved passages are related
(rag/answer/support.py). Real model, real Chroma, the seeds plus a test-only second report."""

from __future__ import annotations

import pytest

from config import SEEDS_DIR
from rag.answer.support import claim_words, holds, same_answer_sentences, states_claim
from rag.loaders import load_corpus
from rag.records import Article

SECOND_REPORT = Article(
    "wire-moscow-briefing",
    "موسكو: التعاون الأمني مع طهران يتوسع",
    "موسكو: التعاون الأمني مع طهران يتوسع\n\nأكد وزير الداخلية الروسي فلاديمير كولوكولتسيف في مؤتمر صحافي "
    "بموسكو أمس أن التعاون مع إيران في مكافحة الإرهاب والجريمة المنظمة سيتوسع خلال العام المقبل. وأضاف أن "
    "فرق العمل المشتركة ستجتمع كل ثلاثة أشهر.",
    source="written for Sanad's tests: a second article naming the same minister",
)


def texts(extra=()):
    out = {a.doc_id: a.text for a in load_corpus(SEEDS_DIR, 10**7) if isinstance(a, Article)}
    return out | {a.doc_id: a.text for a in extra}


def check_quotes(answer, extra=()):
    t = texts(extra)
    for c in answer.citations + answer.related:
        assert t[c.doc_id][c.start : c.end] == c.quote


# --- the test itself, on text --------------------------------------------------------------
def test_an_answer_is_held_as_adjacent_normalized_words():
    sentence = "وقّع الاتفاقيةَ وزيرُ الداخلية الروسي فلاديمير كولوكولتسيف أمس."
    assert holds(sentence, "فلاديمير كولوكولتسيف")
    assert holds(sentence, "الوزير الداخلية")  # the article and tashkeel do not matter
    assert not holds(sentence, "كولوكولتسيف فلاديمير")  # order matters
    assert not holds("افتتح عام 2032 المرصد", "32")  # a number inside another is not the number
    assert holds("شاركت 32 دولة", "32 دولة") and not holds("ذهب إلى طهران", "إلى")  # stopwords alone: never


class S:  # a Sentence as same_answer_sentences reads it
    def __init__(self, doc, start, text, coverage):
        self.hit = type("H", (), {"chunk": type("C", (), {"doc_id": doc})()})()
        self.start, self.end, self.text, self.coverage = start, start + len(text), text, coverage


def test_other_sentences_are_sources_only_where_they_state_the_answer():
    chosen = S("a", 0, "وقع الاتفاقية فلاديمير كولوكولتسيف.", 0.8)
    copy = S("b", 40, chosen.text, 0.8)  # the same sentence in another paper
    restated = S("c", 0, "أكد فلاديمير كولوكولتسيف أن التعاون سيتوسع.", 0.5)
    mention = S("d", 0, "وقال فلاديمير كولوكولتسيف إن الطقس جميل.", 0.1)
    other = S("e", 0, "وقع الاتفاقية رئيسا جهازي الشرطة.", 0.9)
    overlap = S("a", 0, chosen.text, 0.8)  # the chosen sentence again, from an overlapping chunk
    cands = [overlap, other, copy, restated, mention]
    # without the reader: the answer's words, and at least half the chosen sentence's coverage
    assert same_answer_sentences("فلاديمير كولوكولتسيف", chosen, cands, None) == [copy, restated]
    # with the reader: the answer's words, and the reader agrees (a copy is never re-read)
    read = []
    agreed = same_answer_sentences("فلاديمير كولوكولتسيف", chosen, cands, lambda s: read.append(s) or s is mention)
    assert agreed == [copy, mention] and read == [restated, mention]


def test_an_llm_claim_rests_on_a_passage_holding_its_own_words():
    q = "من هو وزير الداخلية الروسي؟"
    claim = "وزير الداخلية الروسي هو فلاديمير كولوكولتسيف"
    assert claim_words(claim, q) == {"فلاديمير", "كولوكولتسيف"}
    assert states_claim("زار فلاديمير كولوكولتسيف طهران.", claim, q)
    assert not states_claim("وزير الداخلية الروسي زار طهران.", claim, q)
    assert states_claim("زار كولوكولتسيف طهران.", "الوزير رجل حازم", q, answer="كولوكولتسيف")


# --- the engine ------------------------------------------------------------------------------
def test_the_seed_question_answers_with_one_source_and_the_rest_related(seeded):
    a = seeded.ask("من وقع اتفاقية التعاون بين شرطة البلدين؟")
    assert a.answer == "رئيسي جهازي الشرطة في كل من البلدين"
    assert len(a.citations) == 1 and "رئيسي جهازي الشرطة" in a.citations[0].quote
    assert a.related and all("رئيسي جهازي الشرطة" not in c.quote for c in a.related)
    assert {c.chunk_id for c in a.related}.isdisjoint(c.chunk_id for c in a.citations)
    check_quotes(a)


def test_a_refusal_lists_no_sources_and_only_close_related_passages(seeded):
    far = seeded.ask("من فاز بكأس العالم لكرة القدم؟")
    assert far.abstained and far.citations == [] and far.related == []
    always = seeded.extractive_answerer(seeded.reader(), 0.999)  # refuses everything, shows what it found
    always.related_on_refusal = 0.0
    q = "من هو وزير الداخلية الروسي؟"
    close = always.answer(q, seeded.retrieve(q))
    assert close.abstained and close.citations == [] and close.related
    check_quotes(close)


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory, cache_dir, embedder):
    from config import load_settings
    from rag import Sanad

    sanad = Sanad(load_settings(home=tmp_path_factory.mktemp("two"), cache_dir=str(cache_dir)), embedder=embedder)
    sanad.ensure_ready()
    sanad.ingest_articles([SECOND_REPORT])
    return sanad


def test_a_fact_stated_in_two_articles_lists_both_as_sources(two_reports):
    a = two_reports.ask("من هو وزير الداخلية الروسي؟")
    assert not a.abstained and "كولوكولتسيف" in a.answer
    docs = [c.doc_id for c in a.citations]
    assert set(docs) == {"asharq-russia-iran-security", "wire-moscow-briefing"}
    assert all("كولوكولتسيف" in c.quote for c in a.citations)
    assert {c.chunk_id for c in a.related}.isdisjoint(c.chunk_id for c in a.citations)
    check_quotes(a, [SECOND_REPORT])
    # the other question's answer is not in the second report: it stays related there
    b = two_reports.ask("من وقع اتفاقية التعاون بين شرطة البلدين؟")
    assert [c.doc_id for c in b.citations] == ["asharq-russia-iran-security"]


def test_replies_label_a_second_article_and_what_a_close_refusal_found(two_reports, seeded):
    from bot.format import format_answer, format_related

    a = two_reports.ask("من هو وزير الداخلية الروسي؟")
    (text,) = format_answer(a, "ar")
    assert "[1]" in text and "[2] (ورد أيضًا في)" in text and text.count("(ورد أيضًا في)") == 1
    related = "".join(format_related(a, "ar"))
    assert "مقاطع ذات صلة لا تذكر الجواب" in related and all(esc_quote(c.quote) in related for c in a.related)
    refuse_all = seeded.extractive_answerer(seeded.reader(), 0.999)
    refuse_all.related_on_refusal = 0.0
    q = "Who signed the police cooperation agreement?"
    refused = refuse_all.answer(q, seeded.retrieve(q))
    (reply,) = format_answer(refused, "en")
    assert reply.startswith("I could not find") and "What I found (it does not answer the question):" in reply
    assert "Sources:" not in reply


def esc_quote(quote: str) -> str:
    import html

    return html.escape(quote[:60], quote=False)
