"""Which passages support an answer: the sources an answer cites, and the rest, related.

An answer's sources are the sentence it was taken from, then other retrieved sentences that
state the same answer: the answer's words occur in them in the same order (after Arabic
normalization: tashkeel, alef forms, ة/ه, the article), and, with the reader, the reader
reading that sentence for the question points at the same answer there (its best span shares
a word with the answer and beats "no answer"); without the reader the sentence must cover at
least half as much of the question as the answer's own. A sentence that merely mentions the
answer's words in another connection is not a source. Every other retrieved passage is
*related*: shown apart, never as a source.

For an LLM's answer the same test runs on each passage the model cites, with the claims that
cite it: one sentence of the passage must hold the extractive answer, or most of the claims' own
words (the words of the claim that are not the question's)."""

from __future__ import annotations

from rag.lexicon import tokenize

CLAIM_SHARE = 0.6  # an LLM claim's own words a passage must hold


def words(text: str) -> list[str]:
    """The normalized words of ``text``, stopwords kept (they are part of a quoted answer)."""
    return [t.norm for t in tokenize(text, keep_stopwords=True)]


def content(text: str) -> set[str]:
    """The normalized words of ``text`` that are not stopwords."""
    return {t.norm for t in tokenize(text)}


def holds(sentence: str, answer: str) -> bool:
    """Whether ``sentence`` has the words of ``answer`` in the same order, adjacent (an answer
    of stopwords alone is held by nothing)."""
    a, s = words(answer), words(sentence)
    if not a or not content(answer):
        return False
    n = len(a)
    return any(s[i : i + n] == a for i in range(len(s) - n + 1))


def shares_word(a: str, b: str) -> bool:
    """Whether two spans share a word that is not a stopword."""
    return not content(a).isdisjoint(content(b))


def claim_words(claim: str, question: str) -> set[str]:
    """The words a claim adds to the question: what a passage must say for the claim to rest on it."""
    return content(claim) - set(words(question))


def states_claim(sentence: str, claim: str, question: str, answer: str = "") -> bool:
    """Whether ``sentence`` supports an LLM ``claim``: it holds the extractive ``answer``, or at
    least CLAIM_SHARE of the claim's own words."""
    if answer and holds(sentence, answer):
        return True
    own = claim_words(claim, question)
    if not own:
        return True  # the claim only restates the question's words: nothing to check
    found = content(sentence)
    return len(own & found) >= CLAIM_SHARE * len(own)
