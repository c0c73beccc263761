"""How the judge's training rows (training/judge_rows.py) make near misses: one term of an answerable question that its answer's
sentence states, replaced by the nearest word of the same form that the paragraph never states."""

import numpy as np

from training import judge_rows as T

PARA = {"p1": {"id": "p1", "title": "زيارة", "text": "وصل وزير الداخلية الروسي فلاديمير كولوكولتسيف إلى طهران. "
                                                    "وقال إن الزيارة مهمة."}}


def fake_embed(word: str) -> np.ndarray:
    """«الخارجية» sits next to «الداخلية», «الثقافة» a little further; the rest far apart."""
    near = {"الداخلية": [1, 0, 0], "الخارجية": [0.95, 0.3, 0], "الثقافة": [0.8, 0.6, 0], "الروسي": [0, 0, 1],
            "الأمريكي": [0, 0.2, 0.98], "الكندي": [0, 0.3, 0.95], "وزير": [0, 1, 0], "رئيس": [0.1, 0.99, 0]}
    v = np.array(near.get(word, [0.3, 0.3, 0.3]), dtype=np.float32)
    return v / np.linalg.norm(v)


def questions():
    base = {"set": "t", "title": "زيارة", "kind": "answerable", "source": "p1"}
    return [
        {**base, "id": "q1", "question": "من هو وزير الداخلية الروسي؟", "answers": ["فلاديمير كولوكولتسيف"]},
        # other questions only lend their words to the vocabulary
        {**base, "id": "q2", "question": "من هو وزير الخارجية الأمريكي؟", "answers": [], "kind": "unanswerable"},
        {**base, "id": "q3", "question": "من هو رئيس الثقافة الكندي؟", "answers": [], "kind": "unanswerable"},
    ]


def test_a_near_miss_changes_one_stated_term_for_a_same_form_word_the_paragraph_lacks():
    out = T.near_misses(questions(), PARA, fake_embed, share=1.0, seed=0)
    (nm,) = out
    assert nm["kind"] == "near_miss" and nm["answers"] == [] and nm["twin"] == "q1"
    before, after = nm["changed"].split(" -> ")
    assert before in "من هو وزير الداخلية الروسي؟" and after.startswith("ال") and after not in PARA["p1"]["text"]
    assert nm["question"] == "من هو وزير الداخلية الروسي؟".replace(before, after)
    assert after in {"الخارجية", "الثقافة", "الأمريكي", "الكندي"}


def test_near_misses_are_reproducible():
    a = T.near_misses(questions(), PARA, fake_embed, share=1.0, seed=3)
    b = T.near_misses(questions(), PARA, fake_embed, share=1.0, seed=3)
    assert a == b


def test_arcd_test_is_never_among_the_training_sets():
    assert not any("arcd-test" in p for p in T.ANSWERABLE.values())
