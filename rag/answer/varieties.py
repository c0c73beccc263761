"""Questions as people write them: what question analysis does with the lexicon of the
varieties (rag/lexicon.py, rag/lexicon.json).

The lexicon maps the interrogatives, function words and common spellings of Egyptian,
Levantine, Gulf, Iraqi and Maghrebi Arabic and of English to their MSA roles. Two uses:

- ``Lexicon.lookup`` for tokenization (rag.lexicon.tokenize): a dialect or English function
  word or interrogative is no content term (dropped like a stop word); a dialect spelling of an
  MSA word becomes that word («شاف» -> «راي»). Words that are also MSA words (the file's
  ``ambiguous`` list) count only in a text that has a sure dialect word.
- ``msa_form``: the question rewritten with the MSA roles, for the analyses that read the
  question's words (type, focus, asked verb, counted noun; rag/answer/question.py): «مين اللي
  وقع الاتفاقية؟» -> «من وقع الاتفاقية»; «الوزير الروسي راح فين؟» -> «أين الوزير الروسي ذهب»
  (an interrogative dialects put last or in place goes first, as MSA has it); «Who is the
  Iranian interior minister?» -> «من هو iranian interior minister». An MSA question comes
  back unchanged, character for character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.lexicon import Lexicon, lexicon
from rag.normalize import STOPWORDS, is_arabic, normalize

# --- the MSA form of a question ---------------------------------------------------------------

_ITEM = re.compile(r"\w+|[،,]")
_PRONOUNS = frozenset(normalize(w) for w in ("هو", "هي", "هم", "هن", "هما"))
# MSA interrogatives that are nothing else («من» is also from, «ما» also not)
_ASKING = frozenset(normalize(w) for w in ("ماذا", "أين", "متى", "كم", "لماذا", "كيف", "هل", "أي"))


def strip_prefix(word: str, lex: Lexicon | None = None) -> str | None:
    """A dialect verb without its tense/aspect prefix («بيدخن» -> «يدخن», «هيروح» -> «يروح»,
    «كيعتمد» -> «يعتمد»): the prefix, then an imperfect verb's own prefix (ي ت ن ا), at least
    three letters after it. None when the word has no such prefix."""
    lex = lex or lexicon()
    for p in lex.prefixes:
        rest = word[len(p):]
        if word.startswith(p) and len(rest) >= 4 and rest[0] in ("ن" if p == "م" else "يتنا"):
            return rest
    return None


def dialect_variants(term: str) -> list[str]:
    """What a dialect question's term may be in MSA passages, most likely first: without the
    tense/aspect prefix («بيعتمد» -> «يعتمد»), without the negation's «ما…ش» («مالهاش» ->
    «لها», «قدرش» -> «قدر»). For matching a term no passage word matches as it is."""
    out = []
    bare = strip_prefix(term)
    if bare:
        out.append(bare)
    if term.endswith("ش") and len(term) >= 4:
        core = term[:-1]
        if core.startswith("ما") and len(core) >= 4:
            core = core[2:]
        out.extend((core, strip_prefix(core) or core))
    return [v for v in dict.fromkeys(out) if len(v) >= 2]


def is_dialect_marker(norm: str, lex: Lexicon) -> bool:
    """A word of the lexicon that no MSA text uses («فين», «اللي», «شنو»)."""
    e = lex.lookup(norm)
    return e is not None and not e.ambiguous and not e.english


@dataclass(frozen=True)
class MsaForm:
    text: str  # the question in MSA words (the question itself when nothing was rewritten)
    variety: str  # "msa", "dialect" or "english"
    rewritten: bool  # whether the lexicon changed anything


@lru_cache(maxsize=1024)
def msa_form(question: str) -> MsaForm:
    """The question with the lexicon's MSA roles (module docstring). Cached: one question is
    read by retrieval and by question analysis (its type, measure and parse)."""
    lex = lexicon()
    if not is_arabic(question):
        return _english(question, lex)
    items = _ITEM.findall(normalize(question))
    words = [w for w in items if w not in "،,"]
    if not words:
        return MsaForm(question, "msa", False)
    sure = any(is_dialect_marker(w, lex) for w in words)
    # an ambiguous interrogative («شوكت», «متين», «إيه») counts as the first word of a clause (of
    # the question, or after a comma: «حسب النص، شو النصيحة»), also behind prepositions («على شو
    # بتعتمد»), and as the last one if the lexicon says so (ends_question: «على إيه؟»)
    ends = {len(items) - 1} if items[-1] in lex.ends_question else set()
    for i in [0] + [j + 1 for j, w in enumerate(items) if w in "،,"]:
        while i < len(items) - 1 and items[i] in lex.msa_prepositions:
            i += 1
        ends.add(i)
    # a word written with «ة» is MSA («في أية مدينة»), never the lexicon's «إيه» it normalizes to
    # (the same items with «ة» kept as «ۃ», a letter normalize leaves alone)
    taa = [w.endswith("\u06c3") for w in _ITEM.findall(normalize(question.replace("ة", "\u06c3")))]
    edge = any(
        (e := lex.lookup(items[i])) is not None and e.kind == "interrogative" and not e.english
        and not (len(taa) == len(items) and taa[i])
        for i in ends if i < len(items) and items[i] not in "،,"  # a comma may end the question
    )
    if not (sure or edge):
        return MsaForm(question, "msa", False)
    out: list[tuple[str, str]] = []  # (kind, MSA word) ; kind: q (interrogative), w (other), c (comma)
    for i, w in enumerate(items):
        if w in "،,":
            out.append(("c", w))
            continue
        e = lex.lookup(w, items[i + 1] if i + 1 < len(items) else "")
        if e is not None and e.english:
            e = None
        if e is not None and e.ambiguous and not sure and not (e.kind == "interrogative" and i in ends):
            e = None
        if e is None:
            if not (w == "من" and out and out[-1] == ("q", "كم")):  # «شحال من ماتش» -> «كم ماتش»
                out.append(("w", w))
            continue
        clitic = w[0] if w not in lex.entries and w[1:] in lex.entries else ""
        if e.kind == "interrogative":
            role = normalize(e.role).split()
            if clitic in ("و", "ف") and len(role) == 1:
                role = [clitic + role[0]]
            elif clitic:
                role = [clitic + role[0], *role[1:]]
            out.extend(("q", r) for r in role)
        elif e.kind == "function":
            if out and out[-1][0] == "q" and normalize(e.role) in ("الذي",):
                continue  # «مين اللي وقع» -> «من وقع»
            nxt = items[i + 1] if i + 1 < len(items) else ""
            if w in STOPWORDS and (nxt.startswith("ال") or not out):
                out.append(("w", w))  # «الي» before a noun is «إلى» written without hamza
            elif e.role not in lex.tags:
                out.extend(("w", r) for r in normalize(e.role).split())
        else:
            out.append(("w", normalize(e.role)))
    if not any(k == "q" for k, _ in out) and not sure:
        return MsaForm(question, "msa", False)
    out = _front(out, lex)
    words_out = _msa_words(out, lex)
    return MsaForm(" ".join(words_out) + "؟", "dialect", True)


def _front(out: list[tuple[str, str]], lex: Lexicon) -> list[tuple[str, str]]:
    """The first interrogative goes first, with a preposition right before it («على إيه»):
    after a comma the words before it go last («خلال خطابه، إيه اللي قاله» -> «ماذا قاله ...
    خلال خطابه»), else the interrogative alone moves («راح فين» -> «فين راح»)."""
    qs = [i for i, (k, _) in enumerate(out) if k == "q"]
    if not qs:
        return out
    i = qs[0]
    j = i
    while j > 0 and out[j - 1][0] == "w" and out[j - 1][1] in lex.msa_prepositions:
        j -= 1
    if j == 0:
        return out
    first = next((w for k, w in out if k == "w" and w not in lex.msa_prepositions), "")
    if out[0][0] == "w" and (first in _ASKING or out[0][1] in _ASKING):
        return out  # it already opens with an MSA interrogative («كيف ممكن ... إيه»)
    k = i + 1
    while k < len(out) and out[k][0] == "q":  # «من أين» is one interrogative
        k += 1
    head = out[j:k]
    before, after = out[:j], out[k:]
    if before and before[-1][0] == "c":
        return head + after + before[:-1]
    return head + before + after


def _msa_words(out: list[tuple[str, str]], lex: Lexicon) -> list[str]:
    """The words, with «ما» written «ماذا» before a verb and the verb after an interrogative
    without its dialect prefix («مين بيدخن» -> «من يدخن»)."""
    words = [w for k, w in out if k != "c"]
    kinds = [k for k, _ in out if k != "c"]
    res = list(words)
    for i, (k, w) in enumerate(zip(kinds, words)):
        if k != "q":
            continue
        nxt = i + 1
        if nxt < len(words) and kinds[nxt] == "w":
            bare = strip_prefix(words[nxt], lex)
            if bare:
                res[nxt] = bare
            if w in ("ما", "وما", "فما") and not (
                words[nxt].startswith("ال") or words[nxt] in _PRONOUNS or words[nxt] in lex.msa_function_words
                or words[nxt] in lex.msa_interrogatives
            ):
                res[i] = w + "ذا"
    return res


def _english(question: str, lex: Lexicon) -> MsaForm:
    """An English question: its wh-word (or yes/no opener) as the MSA interrogative, nouns that
    decide the type («which country», «what year») as MSA nouns, auxiliaries and articles
    dropped, other words kept («Who is the Iranian interior minister?» -> «من هو iranian
    interior minister»)."""
    items = re.findall(r"[\w']+|[،,]", normalize(question))
    words = [w for w in items if w not in "،,"]
    if not words:
        return MsaForm(question, "english", False)
    out: list[tuple[str, str]] = []
    i = 0
    found = False
    # «According to X, what …», «When water changes forms, what …»: the wh-word after the last
    # comma asks the question; the clause before it is context (it goes last, as in MSA)
    wh = [k for k, w in enumerate(items) if (e := lex.entries.get(w)) is not None and e.english
          and e.kind == "interrogative"]
    commas = [k for k, w in enumerate(items) if w in "،,"]
    if wh and commas and wh[-1] > commas[-1] and wh[0] < commas[-1]:
        first = next(k for k in wh if k > commas[-1])
        items = items[first:] + [","] + items[: commas[-1]]
    while i < len(items):
        w = items[i]
        if w in "،,":
            out.append(("c", w))
            i += 1
            continue
        phrase = next((lex.phrases[tuple(items[i:i + n])] for n in (3, 2)
                       if tuple(items[i:i + n]) in lex.phrases), None)
        if phrase is not None and not found:
            n = next(n for n in (3, 2) if tuple(items[i:i + n]) in lex.phrases)
            role = normalize(phrase.role)
            if items[i + 1] == "long":  # «how long» asks for a duration: «ما مدة»
                out.extend([("q", "ما"), ("w", "مده")])
            elif items[i + 1] in ("old",):
                out.extend([("q", role), ("w", "عمر")])
            else:
                out.append(("q", role))
            i += n
            found = True
            continue
        e = lex.entries.get(w)
        if not found and not out and w in lex.openers:
            out.append(("q", normalize(lex.openers[w])))
            found = True
        elif e is not None and e.english and e.kind == "interrogative" and not found:
            out.append(("q", normalize(e.role)))
            found = True
            if i + 1 < len(items) and items[i + 1] in ("is", "are", "was", "were"):
                if out[-1] == ("q", "اي"):
                    out[-1] = ("q", "ما")  # «which is the purpose» -> «ما هو الغرض»
                out.append(("w", "هو"))  # «who is» -> «من هو»: the focus opener
                i += 1
        elif w in lex.type_nouns and out and (out[-1][0] == "q" or out[-1][1] == "هو" and out[-2][0] == "q"):
            if out[-1] == ("q", "ما") and w not in ("name", "number", "percentage", "percent", "proportion", "share"):
                out[-1] = ("q", "اي")  # «what year» is «أي عام», «what is the number» «ما هو عدد»
            out.append(("q", normalize(lex.type_nouns[w])))  # part of the interrogative: moves with it
        elif w in ("in", "on", "at", "to", "by", "for") and i + 1 < len(items) and (
            (e2 := lex.entries.get(items[i + 1])) is not None and e2.english and e2.kind == "interrogative"
        ):  # «in which country» -> «في أي دولة»; not «of»/«from» -> «من», which MSA typing reads as who
            out.append(("w", {"in": "في", "on": "في", "at": "في", "to": "الي", "by": "ب", "for": "ل"}[w]))
        elif w in STOPWORDS or (e is not None and e.english):
            pass
        else:
            out.append(("w", w))
        i += 1
    out = _front(out, lex)
    words_out = [w for k, w in out if k != "c"]
    return MsaForm(" ".join(words_out) + "؟", "english", True)
