"""Follow-up questions in every variety (rag/followup.py): which lean on the last question, and
what they borrow from it."""

import pytest

from rag.followup import is_followup, rewrite


@pytest.mark.parametrize("question", ["ومتى وقعت؟", "وامتى اتوقعت؟", "وفين؟", "وليش؟", "وشلون صار؟", "and when?",
                                      "And where did he go?", "وأين؟"])
def test_followups_of_every_variety(question):
    assert is_followup(question)


@pytest.mark.parametrize("question", ["من وقع اتفاقية التعاون؟", "مين اللي وقع اتفاقية التعاون؟",
                                      "Who signed the cooperation agreement?", "كام دار نشر شاركت في معرض الكتاب؟",
                                      "وقع وزير الداخلية اتفاقية التعاون؟"])
def test_questions_of_their_own(question):
    assert not is_followup(question)
    assert rewrite(question, ["أين زار الوزير الروسي؟"]) == question


def test_a_dialect_question_lends_content_words_only():
    # «مين» and «اللي» are Egyptian function words: retrieval must not search for them
    assert rewrite("وامتى؟", ["مين اللي وقع اتفاقية التعاون؟"]) == "وامتى وقع اتفاقية التعاون؟"
    assert rewrite("ومتى وقعت؟", ["من وقع اتفاقية التعاون بين شرطة البلدين؟"]) == "ومتى وقعت اتفاقية التعاون شرطة البلدين؟"


def test_an_english_followup_stays_english():
    assert rewrite("and when?", ["Who signed the cooperation agreement?"]) == "and when signed cooperation agreement?"


def test_no_history_no_rewrite():
    assert rewrite("وامتى؟", []) == "وامتى؟"
