"""Answer spans (rag/answer/span_ranker.py) and the linear ranker behind them (rag/answer/linear.py)."""

import json

import numpy as np
import pytest

from rag.answer.linear import LinearModel, fit, softmax
from rag.answer.question import Question
from rag.answer.span_ranker import FEATURES, WEIGHTS_FILE, candidates, extract_span
from rag.answer.span_rules import (
    otherwise_qualified,
    qualified_region,
    subject_span,
    tidy,
)
from rag.normalize import terms


def span(question: str, text: str) -> str | None:
    got = extract_span(Question.parse(question), text, lambda _t: 5.0)
    return None if got is None else text[got[0] : got[1]]


def test_when_question_gets_the_date():
    text = "افتتحت الحكومة محطة تحلية المياه الجديدة في الريان يوم 12 مارس 2015 بحضور الوزير."
    assert "2015" in span("متى افتتحت محطة تحلية المياه في الريان؟", text)


def test_news_dates_count_as_dates_times_of_day_months_without_a_year_and_relative_years():
    from rag.answer.question import DATE

    text = ("ستقام الدورة في شهر فبراير من العام القادم، وتعمل القطارات من الساعة الخامسة صباحًا حتى "
            "منتصف الليل، وافتتحت في مايو 2010.")
    assert [m.group() for m in DATE.finditer(text)] == [
        "شهر فبراير من العام القادم", "الساعة الخامسة صباحًا", "منتصف الليل", "في مايو 2010"]
    assert span("متى ستقام الدورة؟", text).startswith("شهر فبراير")


def test_how_many_question_gets_the_amount():
    text = "تنتج محطة تحلية المياه في الريان 120 ألف متر مكعب يوميًا وفق بيان الشركة."
    got = span("كم تنتج محطة تحلية المياه في الريان؟", text)
    assert got.startswith("120 ألف")


def test_share_and_duration_questions_get_a_percentage_and_a_duration():
    text = ("وأوضح المدير أن الألواح المقامة على مساحة 90 هكتارًا توفر نحو 70 في المائة من الكهرباء "
            "التي تحتاجها المحطة، وأن بناءها استغرق 18 شهرا.")
    assert span("ما نسبة الكهرباء التي توفرها الألواح؟", text) == "70 في المائة"
    assert span("ما مدة بناء المحطة؟", text) == "18 شهرا"
    text = "أطلقت الوزارة حملة لتطعيم أطفال تتراوح أعمارهم بين ستة أشهر وخمس سنوات، وتستمر الحملة أسبوعين."
    assert span("ما هي مدة حملة التطعيم؟", text) == "أسبوعين"
    assert span("كم يوما تستمر الحملة؟", text) == "أسبوعين"


def test_measure_reads_what_the_question_measures():
    from rag.answer.question import DURATION, PERCENT, measure

    assert measure("ما هي نسبة المسلمين في البلاد؟") is PERCENT
    assert measure("كم سنة دامت الحرب؟") is DURATION
    assert measure("متى تزيد نسبة الإصابة بالسرطان؟") is None  # asks for a time
    assert measure("كم عدد السكان؟") is None
    assert DURATION.findall("استغرق ثلاث سنوات وعدة أيام في الشهر الماضي سنة 1990") == ["ثلاث سنوات", "عدة أيام"]
    assert PERCENT.findall("نحو 70 في المائة و5% و3.5 بالمئة") == ["70 في المائة", "5%", "3.5 بالمئة"]


def test_who_is_question_skips_the_reporting_verb_before_the_name():
    text = "وفي تصريحاته حول هذه القضية قال رجب صفروف مستشار نائب رئيس مجلس الدوما إن الزيارة ناجحة."
    assert span("من هو رجب صفروف؟", text).startswith("مستشار نائب رئيس")


def test_what_did_x_say_gets_the_reported_clause():
    text = ("وفي تصريحاته لصحيفة محلية حول هذه القضية قال رجب صفروف مستشار نائب رئيس مجلس الدوما "
            "ومدير مركز الدراسات إن نتائج الزيارة تتسق مع توجهات الشراكة.")
    assert span("ماذا قال رجب صفروف عن الزيارة؟", text) == "نتائج الزيارة تتسق مع توجهات الشراكة"
    text = "وأعلن مدير المعرض سامي القاسم أن الدورة المقبلة ستقام في شهر فبراير."
    assert span("ما الذي أعلنه مدير المعرض؟", text) == "الدورة المقبلة ستقام في شهر فبراير"


def test_name_question_gets_the_quoted_name():
    text = "وفازت الروائية ليلى منصور بجائزة المعرض لأفضل رواية عن روايتها «بيت على الشاطئ»، فيما ذهبت جائزة أخرى."
    assert span("ما اسم رواية ليلى منصور؟", text) == "بيت على الشاطئ"
    text = "الجرب مرض جلدي معروف باسم «حكة السبع سنوات» وتسببه القارمة."
    assert span("ما اسم المرض المعروف باسم حكة السبع سنوات؟", text) != "حكة السبع سنوات"


def test_since_when_question_gets_a_duration():
    text = "وأشار إلى زيارة كولوكولتسيف لطهران التي تعد الأولى منذ 34 عاما بحسب الخارجية."
    assert span("منذ متى لم يزر وزير داخلية روسي طهران؟", text) == "34 عاما"


def test_who_question_gets_the_name_beside_the_role():
    text = "وصف الزيارة التي قام بها فلاديمير كولوكولتسيف وزير الداخلية الروسية لطهران بالناجحة."
    assert span("من هو وزير الداخلية الروسي؟", text) == "فلاديمير كولوكولتسيف"


def test_who_question_gets_the_name_after_the_role_not_the_verb_before_it():
    text = "وكشف وزير الداخلية الروسي فلاديمير كولوكولتسيف عن الاتفاقية أمس."
    assert span("من هو وزير الداخلية الروسي؟", text) == "فلاديمير كولوكولتسيف"


def test_who_is_question_takes_the_name_beside_the_asked_about_word():
    text = "وقالت إن زيارة وزير الداخلية الروسية لطهران بدعوة من نظيره الإيراني مصطفى محمد نجار تعتبر الأولى."
    assert "مصطفى محمد نجار" in span("من هو نظير وزير الداخلية الروسي؟", text)


def test_a_role_qualified_otherwise_than_the_question_points_past_the_question_qualifier():
    text = ("وقالت إن الزيارة التي قام بها فلاديمير كولوكولتسيف وزير الداخلية الروسية لطهران بدعوة من نظيره "
            "الإيراني مصطفى محمد نجار تعتبر الأولى.")
    q = Question.parse("من هو وزير الداخلية الإيراني؟")
    assert q.qualifier == "ايراني"
    a, b = qualified_region(q, text)
    assert text[a:b] == "مصطفى محمد نجار تعتبر الأولى"  # the reader chooses the boundaries inside it
    russian = (text.index("فلاديمير"), text.index(" وزير"))
    iranian = (a, text.index(" تعتبر"))
    assert otherwise_qualified(q, text, russian) and not otherwise_qualified(q, text, iranian)
    # asked about the Russian, the Russian is qualified as asked
    assert not otherwise_qualified(Question.parse("من هو وزير الداخلية الروسي؟"), text, russian)
    # no qualifier: «وزير الداخلية» is one role; «الراغب الأصفهاني» is a name asked about, and
    # the words after it are no role's other qualifier
    for plain in ("من هو وزير الداخلية؟", "من وقع الاتفاقية الروسية؟", "ما هي العاصمة الإيرانية؟"):
        assert Question.parse(plain).qualifier is None, plain
        assert qualified_region(Question.parse(plain), text) is None
    bio = "الراغب الأصفهاني أديب وعالم، أصله من أصفهان."
    qb = Question.parse("من هو الراغب الأصفهاني؟")
    assert not otherwise_qualified(qb, bio, (bio.index("أديب"), bio.index("،")))


def test_who_did_question_gets_the_whole_subject_of_the_verb():
    text = "وأشارت المصادر إلى أن رئيسي جهازي الشرطة في كل من البلدين وقعا اتفاقية حول التعاون."
    assert span("من وقع الاتفاقية؟", text) == "رئيسي جهازي الشرطة في كل من البلدين"
    # the subject may repeat the question's words; «من هو» asks for a description, not a subject
    assert span("من وقع اتفاقية التعاون بين شرطة البلدين؟", text) == "رئيسي جهازي الشرطة في كل من البلدين"
    assert span("من هو الذي وقع الاتفاقية؟", text) != "رئيسي جهازي الشرطة في كل من البلدين"


def test_who_did_question_gets_the_subject_after_the_verb_without_the_time():
    text = "افتتحت وزيرة المياه سلمى الحربي صباح الأحد محطة لتحلية مياه البحر."
    assert span("من افتتح محطة تحلية المياه؟", text) == "وزيرة المياه سلمى الحربي"
    text = "وفازت الروائية ليلى منصور بجائزة المعرض لأفضل رواية عن روايتها."
    assert span("من فاز بجائزة أفضل رواية؟", text) == "الروائية ليلى منصور"


def test_who_did_question_keeps_the_name_the_question_makes_an_adjective_of():
    # «العثمانية» matches «عثمان», but here «عثمان» is the answer, not the verb's object
    text = "هي إمبراطورية إسلامية أسسها عثمان الأول بن أرطغرل، واستمرت قائمة لما يقرب من 600 سنة."
    assert span("من اسس الدولة العثمانية؟", text) == "عثمان الأول بن أرطغرل"
    assert subject_span(Question.parse("من اسس الدولة العثمانية؟"), text) == (text.index("عثمان"), text.index("،"))


def test_how_many_question_gets_the_number_before_the_counted_noun():
    text = "اختتم المعرض دورته بعد عشرة أيام شاركت فيها 900 دار نشر من 32 دولة."
    assert span("كم دار نشر شاركت في المعرض؟", text) == "900 دار نشر"
    assert span("كم دولة شاركت في المعرض؟", text) == "32 دولة"
    assert span("كم مرة فاز الفريق بالكأس؟", "فاز الفريق بالكأس ثماني مرات متتالية.") == "ثماني مرات"
    # «كم عدد X»: X is counted, here a plural whose singular the sentence has before «نشر»
    assert span("كم عدد دور النشر المشاركة في المعرض؟", text) == "900 دار نشر"
    assert span("كم عدد الدول المشاركة؟", text) == "32 دولة"
    assert span("كم مقاطعة في هولندا؟", "تضم هولندا اثنتي عشرة مقاطعة.") == "اثنتي عشرة مقاطعة"


def test_who_did_question_skips_the_named_object_and_keeps_quoted_names_whole():
    text = "ونفذت المشروع شركة «المسار» للإنشاءات بكلفة بلغت 4.2 مليار دولار."
    assert span("من نفذ مشروع السكة الحديد؟", text) == "شركة «المسار»"


def test_tidy_never_cuts_a_number_and_closes_an_opened_quote():
    text = "بلغت المساحة 1.002.000 كيلومتر مربع وفق «المسار» اليوم"
    cut = text.index("002")
    assert text.__getitem__(slice(*tidy(text, (cut, cut + 3)))) == "1.002.000"
    one = text.index("1.")
    assert text.__getitem__(slice(*tidy(text, (one, one + 1)))) == "1.002.000"
    q = text.index("«")
    assert text.__getitem__(slice(*tidy(text, (q, q + 7)))) == "«المسار»"


def test_yes_no_question_is_answered_with_the_whole_sentence():
    text = "وقالت المتحدثة إن التطعيم مجاني في جميع المراكز الصحية."
    assert span("هل التطعيم مجاني؟", text) is None  # None: the answer is the sentence


def test_candidates_never_repeat_the_question_and_offsets_hold():
    q = "ما اسم الشركة التي نفذت مشروع السكة الحديد؟"
    text = "نفذت شركة المسار مشروع السكة الحديد بين المدينتين خلال ثلاث سنوات، وفق الوزارة."
    c = candidates(Question.parse(q), text, lambda _t: 5.0)
    whole = c.X[:, FEATURES.index("whole")] > 0
    qterms = set(terms(q))
    for (s, e), is_whole in zip(c.bounds, whole):
        assert text[s:e].strip() == text[s:e] and text[s:e]
        if not is_whole:
            assert not (set(terms(text[s:e])) & qterms), text[s:e]
    assert span(q, text) is not None


def test_weights_for_other_features_are_refused(tmp_path):
    doc = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:-1]
    bad = tmp_path / "w.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match="other features"):
        LinearModel.load(bad, FEATURES)


def test_fit_learns_which_feature_marks_the_answer():
    rng = np.random.default_rng(0)

    def group():
        X = rng.normal(size=(8, 3))
        k = int(rng.integers(8))
        X[k, 1] += 5.0  # feature 1 marks the answer, the others are noise
        return X, np.eye(8)[k], "what"

    model = fit(("a", "b", "c"), [group() for _ in range(200)], l2=0.001, l2_typed=0.01)
    held = [group() for _ in range(100)]
    right = [int(np.argmax(X @ model.weights("what"))) == int(np.argmax(y)) for X, y, _ in held]
    assert np.mean(right) > 0.9
    assert np.argmax(np.abs(model.weights("what"))) == 1
    assert softmax(np.array([0.0, 1000.0])).tolist() == [0.0, 1.0]


def test_rules_ablation_turns_off_each_override_by_name():
    """bench/rules_ablation.py measures each override of the reader's span by turning it off by
    name: every override is one it knows, and turning one off changes ``rules_win``."""
    from bench import rules_ablation as A
    from rag.answer import extractive as X
    from rag.answer.reader import Span

    assert set(X.OVERRIDES) <= set(A.RULES)
    q = Question.parse("ما هي عاصمة مصر؟")
    text = "القاهرة هي عاصمة مصر وأكبر مدنها."
    close = Span(0, 0, 7, score=5.0, null=0.0, other=4.5)  # the rule's span within RULE_SLACK of the reader's
    assert X.ExtractiveAnswerer.rules_win(q, text, (0, 7), "القاهرة هي", close)
    original = A.patch({"slack"})
    try:
        assert not X.ExtractiveAnswerer.rules_win(q, text, (0, 7), "القاهرة هي", close)
    finally:
        A.restore(original)
    assert X.ExtractiveAnswerer.rules_win(q, text, (0, 7), "القاهرة هي", close)
