"""The lexicon of the varieties (rag/lexicon.json) and the tokenization that reads it: the
text layer's second half, above rag/normalize.py (characters, stems, stop words).

The lexicon maps the interrogatives, function words and common spellings of Egyptian,
Levantine, Gulf, Iraqi and Maghrebi Arabic and of English to their MSA roles. ``tokenize``
(and ``terms``, the keyword index's words) drops a dialect or English function word or
interrogative like a stop word and reads a dialect spelling of an MSA word as that word;
question analysis (rag/answer/varieties.py) rewrites questions with it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.normalize import STOPWORDS, WORD, Token, is_arabic, normalize, stem

LEXICON_FILE = Path(__file__).with_name("lexicon.json")
KINDS = ("interrogatives", "function_words", "words")
_CLITICS = ("و", "ف", "ب", "ل")  # one-letter proclitics a dialect word may carry («ومين», «بشو»)


@dataclass(frozen=True)
class Entry:
    kind: str  # "interrogative", "function" or "word"
    role: str  # the MSA role as written in the file («أين», «الذي», «(genitive)», «رأى»)
    ambiguous: bool  # also an ordinary MSA word: read as dialect only beside a sure dialect word
    varieties: tuple[str, ...]
    english: bool = False


@dataclass
class Lexicon:
    entries: dict[str, Entry] = field(default_factory=dict)  # normalized single word -> entry
    phrases: dict[tuple[str, ...], Entry] = field(default_factory=dict)  # normalized words -> entry
    openers: dict[str, str] = field(default_factory=dict)  # English yes/no openers -> «هل»
    type_nouns: dict[str, str] = field(default_factory=dict)  # English noun -> MSA noun (question typing)
    prefixes: tuple[str, ...] = ()  # dialect tense/aspect prefixes, normalized, longest first
    before_imperfect: dict[str, Entry] = field(default_factory=dict)  # «راح يلعب»: a particle before a verb
    msa_interrogatives: frozenset[str] = frozenset()  # normalized
    msa_prepositions: frozenset[str] = frozenset()
    msa_function_words: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    ends_question: frozenset[str] = frozenset()  # ambiguous interrogatives that may end a question

    def lookup(self, norm: str, following: str = "") -> Entry | None:
        """The entry of a normalized word, also behind a one-letter proclitic when the rest is a
        sure (not ambiguous) Arabic entry («ومين», «وين» is its own entry). ``following``: the
        next word; before an imperfect verb «راح» is the future particle, not «ذهب»."""
        if following[:1] in ("ي", "ت", "ن", "ا") and norm in self.before_imperfect:
            return self.before_imperfect[norm]
        e = self.entries.get(norm)
        if e is not None:
            return e
        if len(norm) > 3 and norm[0] in _CLITICS:
            e = self.entries.get(norm[1:])
            if e is not None and not e.ambiguous and not e.english:
                return e
        return None


def _check_role(kind: str, key: str, role: str, lex: Lexicon, where: str) -> None:
    words = normalize(role).split()
    if kind == "interrogatives":
        ok = words and all(w in lex.msa_interrogatives | lex.msa_prepositions for w in words) and any(
            w in lex.msa_interrogatives for w in words) or (len(words) == 1 and _split_clitic(words[0], lex))
    elif kind == "function_words":
        ok = role in lex.tags or normalize(role) in lex.msa_function_words
    else:
        ok = bool(words) and len(words) == 1 and is_arabic(role) and normalize(role) != normalize(key)
    if not ok:
        raise ValueError(f"{LEXICON_FILE.name}: {where}: «{key}» -> «{role}» is no known MSA {kind[:-1]} role")


def _split_clitic(word: str, lex: Lexicon) -> tuple[str, str] | None:
    """«بماذا» -> («ب», «ماذا»): an MSA interrogative behind a one-letter preposition."""
    if len(word) > 2 and word[0] in ("ب", "ل", "و", "ف") and word[1:] in lex.msa_interrogatives:
        return word[0], word[1:]
    return None


@lru_cache(maxsize=4)
def load(path: Path = LEXICON_FILE) -> Lexicon:
    """The lexicon, checked: every role is a known MSA role, and a word has one role as an
    interrogative in every variety (ValueError naming the entry otherwise)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    msa = raw["msa"]
    lex = Lexicon(
        msa_interrogatives=frozenset(normalize(w) for w in msa["interrogatives"]),
        msa_prepositions=frozenset(normalize(w) for w in msa["prepositions"]),
        msa_function_words=frozenset(normalize(w) for w in msa["function_words"]),
        tags=frozenset(msa["tags"]),
    )
    ambiguous = {normalize(w) for w in raw.get("ambiguous", [])}
    lex.ends_question = frozenset(normalize(w) for w in raw.get("ends_question", []))
    kinds = {"interrogatives": "interrogative", "function_words": "function", "words": "word"}
    seen: dict[str, tuple[str, str, str]] = {}  # norm -> (kind, role, variety) of its first entry
    prefixes: set[str] = set()
    for variety, sections in raw["varieties"].items():
        english = variety == "english"
        for kind in KINDS:
            for key, role in sections.get(kind, {}).items():
                where = f"varieties.{variety}.{kind}"
                _check_role(kind, key, role, lex, where)
                norm = " ".join(normalize(key).split())
                if norm in seen:
                    k0, r0, v0 = seen[norm]
                    if (k0 != kind or kind == "interrogatives" and normalize(r0) != normalize(role)) and not (
                        {k0, kind} == {"function_words"}
                    ):
                        raise ValueError(f"{LEXICON_FILE.name}: «{key}» is {k0} «{r0}» in {v0} but {kind} «{role}» "
                                         f"in {variety}")
                else:
                    seen[norm] = (kind, role, variety)
                words = tuple(norm.split())
                if len(words) > 1:
                    old = lex.phrases.get(words)
                    lex.phrases[words] = Entry(kinds[kind], role, False, (*(old.varieties if old else ()), variety),
                                               english)
                    continue
                old = lex.entries.get(norm)
                if old is not None:
                    if variety not in old.varieties:
                        lex.entries[norm] = Entry(old.kind, old.role, old.ambiguous, (*old.varieties, variety), english)
                else:
                    lex.entries[norm] = Entry(kinds[kind], role, norm in ambiguous, (variety,), english)
        for key, role in sections.get("before_imperfect", {}).items():
            _check_role("function_words", key, role, lex, f"varieties.{variety}.before_imperfect")
            lex.before_imperfect[normalize(key)] = Entry("function", role, True, (variety,))
        for key, role in sections.get("openers", {}).items():
            lex.openers[normalize(key)] = role
        for key, role in sections.get("type_nouns", {}).items():
            lex.type_nouns[normalize(key)] = role
        prefixes |= {normalize(p) for p in sections.get("prefixes", [])}
    unknown = ambiguous - set(lex.entries) - {w for p in lex.phrases for w in p}
    if unknown:
        raise ValueError(f"{LEXICON_FILE.name}: ambiguous words with no entry: {', '.join(sorted(unknown))}")
    lex.prefixes = tuple(sorted(prefixes, key=len, reverse=True))
    return lex


def lexicon() -> Lexicon:
    return load(LEXICON_FILE)



# --- tokenization ---------------------------------------------------------------------------

def terms_version() -> str:
    """Names the tokenization ``terms`` does: a keyword index built with another one is rebuilt
    (rag/keyword.py). Changes with the lexicon of the varieties, which tokenization reads."""
    import hashlib

    return "2-" + hashlib.sha256(LEXICON_FILE.read_bytes()).hexdigest()[:12]


def tokenize(text: str, keep_stopwords: bool = False, dialect: bool | None = None) -> list[Token]:
    """Words of ``text`` with their original offsets, normalized and lightly stemmed.

    Without ``keep_stopwords``, stop words go, and so do the dialect and English function words
    and interrogatives of the lexicon of the varieties (rag/lexicon.json); a dialect
    spelling of an MSA word becomes that word («شاف» -> «راي»). Lexicon words that are also MSA
    words («راح», «لي») are read so only when ``dialect`` is true, or, when it is None, when
    ``text`` has a word of the lexicon that no MSA text uses («فين», «اللي»). With
    ``keep_stopwords`` every word stays, as written (offsets for span extraction)."""
    out = []
    lex = None if keep_stopwords else lexicon()
    held: list[tuple[int, object]] = []  # (position in out, entry) of ambiguous words, decided at the end
    sure = bool(dialect)
    if lex is None:
        for m in WORD.finditer(text):
            norm = normalize(m.group())
            if norm and norm.strip("_") != "":
                out.append(Token(stem(norm), m.start(), m.end()))
        return out
    words = [(normalize(m.group()), m) for m in WORD.finditer(text)]
    for k, (norm, m) in enumerate(words):
        if not norm or norm.strip("_") == "" or norm in STOPWORDS:
            continue
        entry = lex.lookup(norm, words[k + 1][0] if k + 1 < len(words) else "")
        if entry is not None and entry.ambiguous and dialect is not False:
            held.append((len(out), entry))
        elif entry is not None and not entry.ambiguous:
            sure = sure or not entry.english
            if entry.kind != "word":
                continue
            out.append(Token(stem(normalize(entry.role)), m.start(), m.end()))
            continue
        out.append(Token(stem(norm), m.start(), m.end()))
    if held and sure:
        for i, entry in reversed(held):
            if entry.kind == "word":
                out[i] = Token(stem(normalize(entry.role)), out[i].start, out[i].end)
            else:
                del out[i]
    return out


def terms(text: str) -> list[str]:
    """Matching terms of ``text`` (normalized, stemmed, stopwords dropped)."""
    return [t.norm for t in tokenize(text)]


