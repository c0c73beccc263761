"""Sources are the passages that state the answer; the other retrieved passages are related
(rag/answer/support.py). Real model, real Chroma, the seeds plus a test-only second report."""

from __future__ import annotations

import pytest

from config import SEEDS_DIR
from rag.answer.support import claim_words, holds, states_claim
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


class S:  # a Sentence as ExtractiveAnswerer.sources reads it
    def __init__(self, doc, start, text):
        self.hit = type("H", (), {"chunk": type("C", (), {"doc_id": doc})()})()
        self.start, self.end, self.text = start, start + len(text), text


def test_other_articles_are_sources_only_where_the_judge_finds_the_same_answer():
    """At most one sentence per other article, accepted by the judge (at or above the
    threshold), where the reader's span shares a word with the answer; never another sentence
    of the chosen article (its headline, an overlapping chunk)."""
    from rag.answer.extractive import Choice, ExtractiveAnswerer

    answerer = ExtractiveAnswerer.__new__(ExtractiveAnswerer)
    answerer.threshold = 0.5

    def c(doc, text, span_text, p):
        s = S(doc, 0, text)
        i = text.index(span_text)
        return Choice(s, (i, i + len(span_text)), p)

    chosen = c("a", "وقع الاتفاقية فلاديمير كولوكولتسيف.", "فلاديمير كولوكولتسيف", 0.9)
    judged = [chosen,
              c("a", "كولوكولتسيف في طهران", "كولوكولتسيف", 0.8),  # the chosen article's headline
              c("b", "أكد فلاديمير كولوكولتسيف أن التعاون سيتوسع.", "فلاديمير كولوكولتسيف", 0.7),
              c("b", "وقال كولوكولتسيف إن الزيارة مهمة.", "كولوكولتسيف", 0.6),  # b already has one
              c("c", "وقال فلاديمير كولوكولتسيف إن الطقس جميل.", "الطقس جميل", 0.8),  # another answer
              c("d", "زار فلاديمير كولوكولتسيف موسكو.", "فلاديمير كولوكولتسيف", 0.3)]  # the judge doubts it
    assert [s.hit.chunk.doc_id for s in answerer.sources(chosen, judged)] == ["a", "b"]


def test_an_llm_claim_rests_on_a_passage_holding_its_own_words():
    q = "من هو وزير الداخلية الروسي؟"
    claim = "وزير الداخلية الروسي هو فلاديمير كولوكولتسيف"
    assert claim_words(claim, q) == {"فلاديمير", "كولوكولتسيف"}
    assert states_claim("زار فلاديمير كولوكولتسيف طهران.", claim, q)
    assert not states_claim("وزير الداخلية الروسي زار طهران.", claim, q)
    assert states_claim("زار كولوكولتسيف طهران.", "الوزير رجل حازم", q, answer="كولوكولتسيف")


# --- the engine ------------------------------------------------------------------------------
@pytest.mark.xfail(strict=True, reason="the subject-of-the-asked-verb rule is gone (issue 39): the reader's best span is the agreement, the object; «رئيسي جهازي الشرطة» is its third-best span, 6.7 logits behind. A reader training example, not a rule")
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
    always = seeded.extractive_answerer(threshold=0.9999)  # answers nothing, shows the closest it found
    always.closest = 0.0
    q = "من هو وزير الداخلية الروسي؟"
    close = always.answer(q, seeded.retrieve(q))
    assert close.abstained and close.band == "closest" and close.citations == [] and close.related
    check_quotes(close)


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory, cache_dir, embedder):
    from config import load_settings
    from rag import Sanad

    sanad = Sanad(load_settings(home=tmp_path_factory.mktemp("two"), cache_dir=str(cache_dir)), embedder=embedder)
    sanad.ensure_ready()
    sanad.ingest_articles([SECOND_REPORT], keep_demo=True)  # the seeds stay beside it
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
    refuse_all = seeded.extractive_answerer(threshold=0.9999)
    refuse_all.closest = 0.0
    q = "Who signed the police cooperation agreement?"
    refused = refuse_all.answer(q, seeded.retrieve(q))
    (reply,) = format_answer(refused, "en")
    assert reply.startswith("I found no sure answer. The closest passage I found, which may not answer")
    assert esc_quote(refused.related[0].quote) in reply and "Confidence:" in reply
    assert "Sources:" not in reply


def esc_quote(quote: str) -> str:
    import html

    return html.escape(quote[:60], quote=False)
