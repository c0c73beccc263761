"""How the reader's training makes near misses (training/near_misses.py): one word of an answerable
question that the answer's window states, swapped for a word seen in the same slot elsewhere in the
training text and stated nowhere in the passage; numbers and years changed to ones it lacks."""

import random

from training.near_misses import NearMisses

# the training text the same-slot words are read from: offices after «وزير», cities after «مدينة»
TEXTS = [
    "وصل وزير الداخلية إلى المدينة. وقال وزير الخارجية إن الزيارة مهمة. واجتمع وزير المالية مع وزير الداخلية.",
    "وأعلن وزير الخارجية الأمريكي عن الزيارة. وقال وزير المالية السعودي إن الميزانية مهمة.",
    "واستقبل وزير الداخلية الروسي الوفد. وقال وزير الصحة الروسي إن الوضع مستقر. ووزير الصحة السعودي زار الرياض.",
    "زار الوفد مدينة الرياض أمس. ثم زار مدينة جدة. وغادر مدينة الدمام. ووصل إلى مدينة الرياض.",
    "وزير الخارجية الروسي زار مدينة جدة. وزير المالية الروسي زار مدينة الدمام.",
] * 2
PASSAGE = "وصل وزير الداخلية الروسي فلاديمير كولوكولتسيف إلى طهران عام 2015. وقال إن الزيارة مهمة."
WINDOW = "وصل وزير الداخلية الروسي فلاديمير كولوكولتسيف إلى طهران عام 2015."


def test_the_office_asked_about_becomes_another_office_the_passage_does_not_state():
    nm = NearMisses(TEXTS, min_count=2, common=0, min_shared=2)
    made = nm.make("من هو وزير الداخلية الروسي؟", PASSAGE, "فلاديمير كولوكولتسيف", random.Random(1),
                   prefer={"داخليه"}, window=WINDOW)
    assert made is not None
    question, changed = made
    before, after = changed.split(" -> ")
    assert before == "الداخلية" and after in {"الخارجية", "المالية", "الصحة"}
    assert question == f"من هو وزير {after} الروسي؟"


def test_a_year_becomes_one_the_passage_lacks():
    nm = NearMisses(TEXTS, min_count=2, common=0, min_shared=2)
    for seed in range(5):
        made = nm.make("من زار طهران عام 2015؟", PASSAGE, "فلاديمير كولوكولتسيف", random.Random(seed),
                       prefer={"2015"}, window=WINDOW)
        if made and "2015 ->" in made[1]:
            year = int(made[1].split(" -> ")[1])
            assert year != 2015 and abs(year - 2015) <= 3 and str(year) not in PASSAGE
            return
    raise AssertionError("the year was never changed")


def test_no_change_when_nothing_of_the_question_is_stated_in_the_window():
    nm = NearMisses(TEXTS, min_count=2, common=0, min_shared=2)
    assert nm.make("ما عاصمة كندا؟", PASSAGE, "أوتاوا", random.Random(0), window=WINDOW) is None


def test_near_misses_are_reproducible():
    nm = NearMisses(TEXTS, min_count=2, common=0, min_shared=2)
    a = [nm.make("من هو وزير الداخلية الروسي؟", PASSAGE, "x", random.Random(s), window=WINDOW) for s in range(6)]
    b = [nm.make("من هو وزير الداخلية الروسي؟", PASSAGE, "x", random.Random(s), window=WINDOW) for s in range(6)]
    assert a == b and any(a)
