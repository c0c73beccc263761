"""Follow-up questions in a conversation («ومتى وقعت؟»): rewrite them for retrieval with
the content words of the previous question."""

from __future__ import annotations

import re

from rag.normalize import STOPWORDS, normalize, soft_match, stem, terms

_FOLLOW_OPENERS = {
    normalize(w)
    for w in "ومتى وأين وكم ولماذا ومن وما وماذا وكيف وهل فمتى فأين فكم فلماذا فمن فما وكذلك وأيضا وماذا and what when where who how why".split()
}
_PRONOUN_END = re.compile(r"(?:ها|هم|هما|هن|ه)$")


def is_followup(question: str) -> bool:
    """Does the question lean on an earlier one (opens with و/ف + question word, or has
    almost no content words of its own, or only pronoun-bearing ones)?"""
    words = re.findall(r"\w+", normalize(question))
    if not words:
        return False
    if words[0] in _FOLLOW_OPENERS or (len(words) > 1 and " ".join(words[:2]) in _FOLLOW_OPENERS):
        return True
    content = terms(question)
    return len(content) <= 1 or all(_PRONOUN_END.search(t) for t in content)


def rewrite(question: str, history: list[str]) -> str:
    """``question`` with the previous question's content words appended when it is a follow-up."""
    if not history or not is_followup(question):
        return question
    have = set(terms(question))
    extra = []
    for word in re.findall(r"\w+", history[-1]):
        norm = normalize(word)
        if norm in STOPWORDS:
            continue
        if not any(soft_match(stem(norm), t) for t in have) and word not in extra:
            extra.append(word)
    if not extra:
        return question
    return f"{question.strip().rstrip('؟?').strip()} {' '.join(extra)}؟"
