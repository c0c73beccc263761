"""The issue's questions over the seeds, asked as people write them (a real forward pass:
retrieval, the reader, refusal). Known misses are strict xfails with the reason."""

from __future__ import annotations

import pytest


@pytest.mark.xfail(strict=True, reason="the subject-of-the-asked-verb rule is gone (issue 39): the reader's best span is the agreement, the object; «رئيسي جهازي الشرطة» is its third-best span, 6.7 logits behind. A reader training example, not a rule")
def test_egyptian_who_signed(seeded):
    a = seeded.ask("مين اللي وقّع اتفاقية التعاون بين شرطة البلدين؟")
    assert not a.abstained and a.answer == "رئيسي جهازي الشرطة في كل من البلدين"
    assert a.citations[0].doc_id == "asharq-russia-iran-security"


def test_egyptian_how_many_publishers(seeded):
    a = seeded.ask("كام دار نشر شاركت في معرض الكتاب؟")
    assert not a.abstained and "900" in a.answer and "32" not in a.answer
    assert all("900" in c.quote for c in a.citations)


def test_egyptian_near_miss_the_car_show_is_refused(seeded):
    # «العربيات» is the lexicon's «السيارات»: the seeds have a book fair, no car show
    assert seeded.ask("كام واحد زار معرض العربيات؟").abstained


def test_english_question_answers_with_the_arabic_span(seeded):
    a = seeded.ask("How many publishers took part in the book fair?")
    assert not a.abstained and "900" in a.answer
    assert a.citations[0].doc_id == "sanad-demo-book-fair" and "دار نشر" in a.citations[0].quote


def test_english_question_is_read_past_the_chunks_first_sentences(seeded):
    """An English question's words rank no Arabic sentence, so the reader reads more of them
    (extractive.UNRANKED_SENTENCES); with two it answered «اليونان» from the sentence before."""
    a = seeded.ask("Who won the prize for the best novel at the book fair?")
    assert not a.abstained and a.answer == "ليلى منصور"
    assert "بجائزة المعرض لأفضل رواية" in a.citations[0].quote


@pytest.mark.xfail(strict=True, reason="regression of the judge (issue 39): an English question's word-matching evidence "
                                       "is unknown to it, and «Who won the football world cup?» is answered from the seeds")
def test_english_question_the_sources_do_not_answer_is_refused(seeded):
    a = seeded.ask("Who won the football world cup?")
    assert a.abstained and a.citations == [] and a.band in ("refused", "closest")
    assert a.answer.startswith("I could not find" if a.band == "refused" else "I found no sure answer")


@pytest.mark.xfail(strict=True, reason='the judge refuses it (confidence below 0.35): the lexicon maps «راح فين» but «الوزير الروسي» covers little of the sentence naming Tehran')
def test_levantine_where_did_the_minister_go(seeded):
    a = seeded.ask("الوزير الروسي راح فين؟")
    assert not a.abstained and "طهران" in a.answer


@pytest.mark.xfail(strict=True, reason="the reader reading an English question names the Russian minister beside "
                                       "«وزير الداخلية»; the qualifier rule reads Arabic questions only (#23, #24)")
def test_english_who_is_the_iranian_interior_minister(seeded):
    a = seeded.ask("Who is the Iranian interior minister?")
    assert not a.abstained and "نجار" in a.answer
