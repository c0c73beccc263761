from rag.chunking import chunk_article, split_sentences
from rag.records import Article

TEXT = (
    "العنوان الرئيسي للخبر\n\n"
    "الجملة الأولى تتحدث عن الاتفاقية. والجملة الثانية تذكر الوزير؟ "
    "أما الثالثة فتقول «نعم» بوضوح! والرابعة قصيرة.\n"
    "فقرة جديدة تبدأ هنا وتنتهي هنا."
)


def test_sentences_are_exact_spans_of_the_original():
    spans = split_sentences(TEXT)
    quotes = [TEXT[s:e] for s, e in spans]
    assert quotes == [
        "العنوان الرئيسي للخبر",
        "الجملة الأولى تتحدث عن الاتفاقية.",
        "والجملة الثانية تذكر الوزير؟",
        "أما الثالثة فتقول «نعم» بوضوح!",
        "والرابعة قصيرة.",
        "فقرة جديدة تبدأ هنا وتنتهي هنا.",
    ]


def test_chunk_offsets_reproduce_text_and_never_cut_sentences():
    article = Article("a1", "العنوان", TEXT * 5)
    chunks = chunk_article(article, max_chars=150, overlap_sentences=1)
    assert len(chunks) > 3
    boundaries = {s for s, _ in split_sentences(article.text)} | {e for _, e in split_sentences(article.text)}
    for c in chunks:
        assert article.text[c.start : c.end] == c.text
        assert c.start in boundaries and c.end in boundaries
        assert len(c.text) <= 150
    # consecutive chunks overlap by exactly one sentence
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end
        assert article.text[b.start : a.end] in [article.text[s:e] for s, e in split_sentences(article.text)]


def test_chunk_ids_are_deterministic_and_hash_content():
    article = Article("a1", "t", TEXT)
    one = chunk_article(article, 150, 1)
    two = chunk_article(article, 150, 1)
    assert [c.chunk_id for c in one] == [c.chunk_id for c in two]
    assert [c.content_hash for c in one] == [c.content_hash for c in two]
    changed = chunk_article(Article("a1", "t", TEXT.replace("الوزير", "الرئيس")), 150, 1)
    assert {c.content_hash for c in changed} != {c.content_hash for c in one}


def test_overlong_sentence_is_cut_at_word_boundaries():
    long_sentence = " ".join(["كلمة"] * 400) + "."
    chunks = chunk_article(Article("a2", "t", long_sentence), max_chars=200, overlap_sentences=1)
    assert len(chunks) > 1
    for c in chunks:
        assert len(c.text) <= 200
        assert long_sentence[c.start : c.end] == c.text
        assert not c.text.startswith(" ") and "كلمة" in c.text
