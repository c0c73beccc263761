"""Questions as people write them: the lexicon of the varieties (rag/lexicon.json) and
what question analysis, tokenization and keyword search do with it."""

import json

import pytest

from rag.answer.question import DURATION, Question, question_type
from rag.answer.sentences import Matcher, coverage, term_set, term_weights
from rag.answer.varieties import msa_form
from rag.lexicon import LEXICON_FILE, load, terms
from rag.normalize import normalize


def same(dialect: str, msa: str, ordered: bool = True) -> None:
    """A dialect question and its MSA form get the same Question where the lexicon decides."""
    d, m = Question.parse(dialect), Question.parse(msa)
    assert (d.type, d.focus, d.counted, d.measure) == (m.type, m.focus, m.counted, m.measure), (
        dialect, d, m)
    assert (d.terms if ordered else set(d.terms)) == (m.terms if ordered else set(m.terms)), (d.terms, m.terms)


def typed(question: str, qtype: str, focus: str | None = "-") -> Question:
    q = Question.parse(question)
    assert q.type == qtype, (question, q.type, q.msa)
    if focus != "-":
        assert q.focus == (normalize(focus) if focus else None), (question, q.focus, q.terms)
    return q


# --- the lexicon file -----------------------------------------------------------------------

def test_the_lexicon_loads_and_every_role_is_a_known_msa_role():
    raw = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    assert set(raw["varieties"]) == {"egyptian", "levantine", "gulf", "iraqi", "maghrebi", "english"}
    assert raw["sources"] and all(len(s) > 40 for s in raw["sources"])
    lex = load(LEXICON_FILE)
    msa = raw["msa"]
    known_function = {normalize(w) for w in msa["function_words"]} | set(msa["tags"])
    n = 0
    for variety, sections in raw["varieties"].items():
        for key, role in sections["interrogatives"].items():
            words = normalize(role).split()
            assert words[-1] in {normalize(w) for w in msa["interrogatives"]} or words[-1][1:] in {
                normalize(w) for w in msa["interrogatives"]}, (variety, key, role)
            n += 1
        for key, role in sections["function_words"].items():
            assert (role if role in msa["tags"] else normalize(role)) in known_function, (variety, key, role)
            n += 1
        for key, role in sections.get("words", {}).items():
            assert normalize(role) != normalize(key) and " " not in role, (variety, key, role)
            n += 1
    assert n > 400 and len(lex.entries) > 300
    # each MSA interrogative role is one MSA question typing knows
    for role in ("من", "ما", "ماذا", "أين", "متى", "كم", "لماذا", "كيف", "هل"):
        assert question_type(f"{role} الأمر؟") != "other", role


def test_a_role_that_is_no_msa_role_is_refused_with_the_entry_named(tmp_path):
    raw = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    raw["varieties"]["egyptian"]["interrogatives"]["فين"] = "حيث"  # not an MSA interrogative
    bad = tmp_path / "varieties.json"
    bad.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="فين"):
        load(bad)
    raw = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    raw["varieties"]["iraqi"]["interrogatives"]["مين"] = "أين"  # Egyptian «مين» is «من»
    bad.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="مين"):
        load(bad)


# --- one variety at a time ------------------------------------------------------------------

def test_egyptian():
    same("مين اللي وقّع اتفاقية التعاون بين شرطة البلدين؟", "من وقع اتفاقية التعاون بين شرطة البلدين؟")
    same("الوزير الروسي راح فين؟", "أين ذهب الوزير الروسي؟", ordered=False)
    same("كام دار نشر شاركت في معرض الكتاب؟", "كم دار نشر شاركت في معرض الكتاب؟")
    typed("مين اللي وقّع الاتفاقية؟", "who")
    typed("إمتى تجربة رينج زادت المبيعات؟", "when")
    typed("ليه السجون العراقية بقت مشهورة؟", "why")
    typed("إزاي أعضاء ثقافة فرعية معينة يظهروا ارتباطهم بالجماعة؟", "how")
    typed("القدرة على الرؤية بتعتمد على إيه؟", "what")  # the interrogative last
    typed("إيه هو الاسم التاني للأرقام في نظام العد الثنائي؟", "what", focus="اسم")
    # an ambiguous interrogative opens a clause after a comma, or behind a preposition
    same("حسب كلام الوزير، إيه هي نتيجة الزيارة؟", "ما هي نتيجة الزيارة حسب كلام الوزير؟", ordered=False)
    typed("في إيه بتستخدم اللغة اللاتينية؟", "what")


def test_common_dialect_nouns_and_the_moroccan_future_read_as_msa():
    assert "سيارات" in Question.parse("كام واحد زار معرض العربيات؟").terms  # the car show, not the book fair
    assert "مباراه" in Question.parse("مين كسب الماتش؟").terms
    assert "حادث" in Question.parse("فوقاش وقعات الكسيدة؟").terms
    assert msa_form("فين غايلعبو الفريق؟").text.startswith("اين يلعبو ")  # «غا» + the imperfect
    assert "عربيات" in terms("رأيت العربيات في السوق")  # ambiguous in MSA text (Arab women): as written


def test_msa_which_written_with_taa_marbuta_is_no_egyptian_what():
    for q in ("أية مدينة استضافت الحفل؟", "في أية مدينة أجري حفل تقديم الجوائز؟"):
        assert msa_form(q).variety == "msa", q
        assert msa_form(q).text == q
    # the same letters written «إيه» in the same question still ask
    assert msa_form("في رأي آية الله خامنئي، إيران لازم تحرر نفسها من إيه؟").variety == "dialect"


def test_levantine():
    typed("شو الاسم التاني المستخدم للأرقام الثنائية؟", "what", focus="اسم")
    typed("وين انقتل إيتالو بالبو؟", "where")
    typed("إيمت زادت مبيعات شركة رينغ؟", "when")
    typed("ليش انشهر السجن العراقي؟", "why")
    typed("مين وصف لونا بأنها «مرعبة»؟", "who")
    same("قديش دولة شاركت بالمعرض؟", "كم دولة شاركت بالمعرض؟")
    same("شو قال الوزير عن الزيارة؟", "ماذا قال الوزير عن الزيارة؟")
    # a word in «من…» after an interrogative is a noun or an MSA verb, not «مـ» + «ن…» (we …)
    same("قديش منطقة بالصين؟", "كم منطقة بالصين؟")
    typed("على شو بتعتمد القدرة على النظر؟", "what")
    same("بحسب المذكور بالنص، شو النصيحة المفيدة للسيدات؟", "ما النصيحة المفيدة للسيدات بحسب المذكور بالنص؟",
         ordered=False)
    assert msa_form("شو منعوا الطيارة تعمل؟").text.startswith("ماذا منعوا ")
    assert "منظمه" in msa_form("أنهي منظمة بتحقق فيها الشرطة؟").text


def test_gulf():
    typed("ايش الاسم الثاني للأرقام الثنائية؟", "what", focus="اسم")
    typed("إيتالو بالبو انقتل وين؟", "where")  # last
    typed("منو فاز بالبطولة؟", "who")
    typed("شلون يظهرون ارتباطهم بالجماعة؟", "how")
    typed("ليش اشتهرت السجون العراقية؟", "why")
    same("وش اسم الرواية؟", "ما اسم الرواية؟")


def test_iraqi():
    typed("شوكت ازدادت مبيعات شركة رنك؟", "when")
    same("شكد عدد المباريات؟", "كم عدد المباريات؟")
    q = typed("شكد عدد المباريات الي لعبها خيسوس؟", "howmany", focus="مباريات")
    assert q.counted[:2] == ("المباريات", "الذي") and q.terms == ("عدد", "مباريات", "لعبها", "خيسوس")
    typed("منو اطلق على لونا لقب غريبة الأطوار؟", "who")
    typed("شنو هو الغرض الأساسي من التجربة؟", "what", focus="غرض")
    typed("شلون يميز الأعضاء منظمتهم؟", "how")
    typed("ليش صار سمعة سيئة على السجن العراقي؟", "why")


def test_moroccan():
    typed("شكون قال على لونا أنها غريبة الأطوار؟", "who")
    typed("فين كانت قوات الكولونيل ستارك؟", "where")
    q = typed("وقتاش تزادت المبيعات ديال شركة رينغ؟", "when")
    assert "ديال" not in q.terms
    same("شحال من ماتش لعب جيسوس؟", "كم ماتش لعب جيسوس؟")
    typed("علاش كتبان الصورة مقطوعة؟", "why")
    typed("كيفاش كيبينو الأعضاء ارتباطهم بالمجموعة؟", "how")
    typed("واش الوزير زار طهران؟", "yesno")


def test_english():
    q = typed("Who is the Iranian interior minister?", "who", focus="minister")
    assert q.variety == "english" and q.terms == ("iranian", "interior", "minister")
    typed("In which country was the first war in Europe?", "where")
    typed("What year did the war end?", "when")
    typed("When did the Ring trial increase sales?", "when")
    typed("How many matches did Jesus play for Manchester City?", "howmany", focus="matches")
    typed("Why did the Iraqi prisons become famous?", "why")
    typed("What is the chemical composition of water?", "what", focus="composition")
    typed("What is the name of the novel?", "what")
    assert Question.parse("How long did the war last?").measure is DURATION
    typed("Did the minister visit Tehran?", "yesno")


# --- content terms and coverage ---------------------------------------------------------------

def test_dialect_and_english_function_words_are_never_content_terms():
    raw = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    lex = load(LEXICON_FILE)
    checked = 0
    for variety, sections in raw["varieties"].items():
        for kind in ("interrogatives", "function_words"):
            for key in sections[kind]:
                norm = normalize(key)
                if " " in norm or lex.entries[norm].ambiguous:
                    continue
                assert terms(f"{key} الوزير") == ["وزير"], (variety, key, terms(f"{key} الوزير"))
                checked += 1
    assert checked > 250
    for q in ("مين اللي وقّع الاتفاقية؟", "وقتاش تزادت المبيعات ديال شركة رينغ؟", "شو هوي الغرض من التجربة؟",
              "What is the name of the novel that was written by him?"):
        bad = {normalize(w) for w in ("مين", "اللي", "لي", "وقتاش", "ديال", "شو", "هوي", "what", "that", "was", "him")}
        assert not bad & set(Question.parse(q).terms), (q, Question.parse(q).terms)


def test_words_that_are_also_msa_count_as_dialect_only_beside_a_sure_dialect_word():
    assert terms("راح ضحيتها عشرات المدنيين") == ["راح", "ضحيتها", "عشرات", "مدنيين"]
    assert "ذهب" in terms("الوزير راح فين؟")
    assert terms("وين راح يلعبون؟") == ["يلعبون"]  # before a verb «راح» is the future particle
    q = Question.parse("لماذا ظهرت في برنامج أوبرا وينفري شو؟")  # Shaw, not «what»
    assert q.type == "why" and "شو" in q.terms and q.variety == "msa"
    for msa in ("من وقع اتفاقية التعاون بين شرطة البلدين؟", "أين تقع ولاية ألاسكا؟", "كم ولاية في الهند؟"):
        form = msa_form(msa)
        assert form.text == msa and not form.rewritten and form.variety == "msa"


def test_a_dialect_question_covers_the_msa_sentence_that_answers_it():
    sentence = "وقّع وزير الداخلية الروسي اتفاقية التعاون بين شرطة البلدين في طهران"
    sterms = term_set(sentence)
    for question in ("مين اللي وقّع اتفاقية التعاون بين شرطة البلدين؟", "من وقع اتفاقية التعاون بين شرطة البلدين؟"):
        q = Question.parse(question)
        w = term_weights(list(q.terms), lambda _t: 2.0, q.focus)
        assert coverage(w, sterms, Matcher(list(q.terms), set(sterms))) == 1.0, (question, q.terms)
    q = Question.parse("الوزير الروسي راح فين؟")
    sterms = term_set("ذهب الوزير الروسي إلى طهران أمس")
    assert coverage(term_weights(list(q.terms), lambda _t: 1.0), sterms, Matcher(list(q.terms), set(sterms))) == 1.0


def test_a_dialect_verb_matches_its_msa_form_without_the_tense_prefix():
    vocabulary = {"تعيد", "شركه", "اختراع"}
    assert Matcher(["هتعيد"], vocabulary, dialect=True).soft["هتعيد"] == {"تعيد"}
    assert not Matcher(["هتعيد"], vocabulary).soft["هتعيد"]  # only for a dialect question
    assert Matcher(["مالهاش"], {"لها"}, dialect=True).soft["مالهاش"] == {"لها"}


# --- keyword search -----------------------------------------------------------------------------

def test_keyword_search_reads_a_dialect_question_as_its_msa_form(tmp_path):
    from rag.keyword import KeywordIndex

    docs = [
        ("a", "ذهب الوزير الروسي إلى طهران لتوقيع الاتفاقية", "h1"),
        ("b", "قال الوزير إن المعرض شاركت فيه 900 دار نشر", "h2"),
        ("c", "فين ومين وايش واللي كلمات لا تعني شيئا هنا", "h3"),
    ]
    kw = KeywordIndex.build(docs, "g1")
    dialect = terms("الوزير الروسي راح فين؟")
    assert sorted(dialect) == sorted(terms("أين ذهب الوزير الروسي؟"))
    scores = kw.score_map(dialect)
    assert max(scores, key=scores.get) == "a" and "c" not in scores
    assert terms("Who signed the agreement?") == ["signed", "agreement"]
    # an index saved with another tokenization is rebuilt, not read
    kw.save(tmp_path / "kw")
    assert KeywordIndex.load(tmp_path / "kw") is not None
    state = json.loads((tmp_path / "kw" / "state.json").read_text())
    state["terms"] = "1"
    (tmp_path / "kw" / "state.json").write_text(json.dumps(state))
    assert KeywordIndex.load(tmp_path / "kw") is None


def test_dense_search_reads_a_dialect_question_with_its_msa_form(seeded):
    """A dialect question's vector mixes in its MSA form's: nearer the MSA question's own."""
    import numpy as np

    emb = seeded.embedder
    dialect, msa = "الوزير الروسي راح فين؟", "أين ذهب الوزير الروسي؟"
    own, mixed = emb.embed_query(dialect), seeded.question_vector(dialect)
    assert abs(float(np.linalg.norm(mixed)) - 1.0) < 1e-4
    target = emb.embed_query(msa)
    assert float(mixed @ target) > float(own @ target) + 0.005
    for q in (msa, "Who is the Iranian interior minister?"):  # as written: MSA and English
        assert np.array_equal(seeded.question_vector(q), emb.embed_query(q))


def test_the_judge_reads_an_english_questions_word_matching_evidence_as_unknown(seeded):
    """One judge for every variety: a dialect question's word-matching evidence is measured
    after the lexicon, an English question's is unknown (NaN, read at its mean)."""
    import math

    from rag.answer.judge import LEXICAL
    from rag.answer.question import Question

    ans = seeded.answerer
    for text, variety in (("مين اللي وقّع اتفاقية التعاون بين شرطة البلدين؟", "dialect"),
                          ("Who signed the police cooperation agreement?", "english"),
                          ("من وقع اتفاقية التعاون بين شرطة البلدين؟", "msa")):
        q = Question.parse(text)
        assert q.variety == variety
        retrieved = seeded.retrieve(text)
        best = ans.judged(q, ans.sentences(q, retrieved.hits), retrieved)[0]
        assert all(math.isnan(best.evidence[k]) == (variety == "english") for k in LEXICAL)
        assert best.evidence["cross_lingual"] == (variety == "english")
        assert math.isfinite(best.evidence["margin"]) and best.logit == ans.judge.logit(best.evidence)


def test_a_question_ending_in_a_comma_is_read():
    """A comma as the last word opened a «clause» past the end (an IndexError for every command)."""
    assert msa_form("ما هو مشتق من (Q \\ [0] ، -)؟").variety == "msa"
    assert msa_form("شو اسمه،").variety == "dialect"
