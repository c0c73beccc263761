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
    assert rewrite("وامتى؟", ["مين اللي وقع اتفاقية التعاون؟"]) == "امتى وقع اتفاقية التعاون؟"
    assert rewrite("ومتى وقعت؟", ["من وقع اتفاقية التعاون بين شرطة البلدين؟"]) == "متى وقعت اتفاقية التعاون شرطة البلدين؟"


def test_an_english_followup_stays_english():
    assert rewrite("and when?", ["Who signed the cooperation agreement?"]) == "when signed cooperation agreement?"


def test_no_history_no_rewrite():
    assert rewrite("وامتى؟", []) == "وامتى؟"


# --- conversations through the engine (Sanad.ask(question, history=...)) --------------------
from pathlib import Path  # noqa: E402

from rag.evaluation import run as run_eval  # noqa: E402
from rag.evaluation.sets import read_questions  # noqa: E402
from rag.followup import Turn, unresolved, without_opener  # noqa: E402

FOLLOWUPS = Path(__file__).parent / "data" / "seeds-followups.jsonl"


def test_the_seed_conversations_are_answered_about_the_same_story(seeded):
    questions = read_questions(FOLLOWUPS)
    assert len(questions) >= 20 and {q.variety for q in questions} >= {"msa", "egyptian", "levantine", "gulf", "iraqi",
                                                                       "maghrebi", "english"}
    report = run_eval(seeded, questions, progress=False)
    rows = report["rows"]
    right = [r for r in rows if r["f1"] >= 0.5]
    assert len(right) >= 19, [(r["id"], r["answer"]) for r in rows if r["f1"] < 0.5]  # 19 of 25 on 2026-12-07
    assert all(r["history"] for r in rows)


def test_a_followup_never_gets_the_previous_answer_again(seeded):
    first = seeded.ask("كم دار نشر شاركت في معرض الكتاب الدولي؟")
    assert "900" in first.answer
    then = seeded.ask("وكم بلغ عدد الزوار؟", history=[first.turn])
    assert "900" not in then.answer  # (the judge picks «32» or «مليون»: the reader's choice, not the repeat)
    assert then.citations[0].doc_id == first.citations[0].doc_id  # the same story


def test_history_takes_turns_or_plain_questions(seeded):
    asked = seeded.ask("ومتى؟", history=["من دشن خط السكة الحديد السريع؟"])
    assert "الخميس" in asked.answer and asked.question == "متى دشن خط السكة الحديد السريع؟"
    turn = Turn.of({"question": "من دشن خط السكة الحديد السريع؟", "answer": "أحمد الفارسي",
                    "doc_ids": ["sanad-demo-rail-line"]})
    assert "الخميس" in seeded.ask("ومتى؟", history=[turn]).answer


@pytest.mark.parametrize(("question", "phrase"), [("ومتى؟", "اكتب السؤال كاملًا"), ("and when?", "ask the whole question")])
def test_a_followup_with_nothing_before_it_says_so(seeded, question, phrase):
    assert unresolved(question)
    answer = seeded.ask(question)
    assert answer.abstained and phrase in answer.answer and answer.band == "refused"


def test_the_opener_goes():
    assert without_opener("ومتى؟") == "متى؟" and without_opener("and where did he go?") == "where did he go?"
    assert without_opener("وزير الداخلية؟") == "وزير الداخلية؟"  # «و» of a word, not a conjunction


def test_sanad_chat_keeps_the_conversation(tmp_path, cache_dir, seeded):
    import os
    import subprocess
    import sys

    env = {**os.environ, "SANAD_HOME": str(seeded.settings.home), "SANAD_CACHE_DIR": str(cache_dir),
           "HF_HUB_OFFLINE": "1", "SANAD_CORPUS": ""}
    lines = "من دشن خط السكة الحديد السريع؟\nومتى؟\n/reset\nومتى؟\n"
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "chat"], input=lines, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    answers = proc.stdout.split("(new conversation)")
    assert "أحمد الفارسي" in answers[0] and "الخميس" in answers[0]
    assert "اكتب السؤال كاملًا" in answers[1]
