"""Follow-up questions in a conversation («ومتى وقعت؟», «وامتى؟», «and where?»): rewrite them
for retrieval with the content words of the previous question; the engine then searches the
previous answer's articles first and never gives the previous answer again (``Turn``,
``Sanad.ask(question, history=...)``).

Both sides read words as keyword search does (rag.lexicon.tokenize, with the lexicon of the
varieties): an opener is «و»/«ف» (or English "and") plus a question word of any variety, and the
words carried over are the previous question's content words only, so a dialect or English
question never lends its function words («مين اللي وقع الاتفاقية؟» lends «وقع الاتفاقية»)."""

from __future__ import annotations

import re

from rag.lexicon import lexicon, tokenize
from rag.normalize import is_arabic, normalize, soft_match
from rag.records import Turn  # noqa: F401 (a conversation's turns: this module's API)

_MSA_OPENERS = frozenset(normalize(w) for w in "ومتى وأين وكم ولماذا ومن وما وماذا وكيف وهل وأي فمتى فأين فكم فلماذا فمن فما فكيف فهل وكذلك وأيضا".split())
_PRONOUN_END = re.compile(r"(?:ها|هم|هما|هن|ه)$")


def _opens(words: list[str]) -> bool:
    """Whether the first word(s) are «و/ف» + a question word (MSA or the lexicon's), or "and" + one."""
    first = words[0]
    if first in _MSA_OPENERS:
        return True
    lex = lexicon()
    if first[:1] in ("و", "ف") and first not in lex.entries:  # «وامتى»: a clitic on a dialect interrogative
        entry = lex.lookup(first)
        if entry is not None and entry.kind == "interrogative":
            return True
    if first == "and" and len(words) > 1:
        entry = lex.lookup(words[1])
        return entry is not None and entry.kind == "interrogative"
    return False


def is_followup(question: str) -> bool:
    """Does the question lean on an earlier one (opens with و/ف + question word, or has
    almost no content words of its own, or only pronoun-bearing ones)?"""
    words = re.findall(r"\w+", normalize(question).lower())
    if not words:
        return False
    if _opens(words):
        return True
    content = [t.norm for t in tokenize(question)]
    return len(content) <= 1 or all(_PRONOUN_END.search(t) for t in content)


def without_opener(question: str) -> str:
    """A follow-up without the «و»/«ف»/"and" it opens with («ومتى؟» -> «متى؟», "and when?" ->
    "when?"): what remains reads as a question of its own, the way the reader was trained."""
    text = question.strip()
    words = re.findall(r"\w+", normalize(text).lower())
    if not words or not _opens(words):
        return question
    if words[0] == "and":
        return re.sub(r"^\s*and\s+", "", text, flags=re.IGNORECASE)
    return re.sub(r"^\s*[وف]", "", text)


def rewrite(question: str, history: list[str]) -> str:
    """A follow-up without its opening «و»/"and", with the previous question's content words
    appended; any other question as it is."""
    if not history or not is_followup(question):
        return question
    question = without_opener(question)
    have = [t.norm for t in tokenize(question)]
    previous = history[-1]
    extra: list[str] = []
    for tok in tokenize(previous):
        word = previous[tok.start : tok.end]
        if not any(soft_match(tok.norm, t) for t in have) and word not in extra:
            extra.append(word)
    if not extra:
        return question
    mark = "؟" if is_arabic(question) else "?"
    return f"{question.strip().rstrip('؟?').strip()} {' '.join(extra)}{mark}"


def unresolved(question: str) -> bool:
    """A follow-up with nothing of its own to search for («ومتى؟», "and where?")."""
    return is_followup(question) and not tokenize(question)
