"""Near misses for training the reader to say "no answer here": an answerable question with the
one thing it asks about changed to something of the same kind that its passage does not state
(«وزير الخارجية» -> «وزير المالية», «المدير التنفيذي» -> «رئيس», 2015 -> 2016), asked against
the very sentence that answers the original. Seeded and reproducible.

"Of the same kind" is read from the training text itself, not from a word list: a replacement
must have been seen in the same slot (after the same word, or before the same word) as the word
it replaces, and among those the one whose neighbours overlap most with the original's is
preferred (distributional similarity), so an office is swapped for an office and a city for a
city. A replacement that the passage or its title states (through normalization, clitics and
suffixes: ``soft_match``) is never used, so the changed question is unanswerable from the
passage. Numbers and years are changed to one the passage does not hold.

``python -m training.near_misses SQUAD.json -n 30`` prints a sample to read by eye."""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict

from rag.lexicon import tokenize
from rag.normalize import normalize, soft_match

_CLITIC = ("و", "ف", "ب", "ل", "ك")
_DIGITS = re.compile(r"^[0-9٠-٩]+$")
_SKIP = {"ما", "من", "كم", "متى", "اين", "أين", "كيف", "لماذا", "هل", "اي", "أي", "هو", "هي", "في", "الى", "على",
         "عن", "الذي", "التي", "what", "who", "when", "where", "which", "how", "the", "of", "in", "is", "was"}


def _form(word: str) -> tuple[str, str]:
    """(clitic, rest): a one-letter conjunction/preposition before the article, else ''."""
    if len(word) > 4 and word[0] in _CLITIC and word[1:3] == "ال":
        return word[0], word[1:]
    return "", word


def _words(text: str) -> list[tuple[str, str]]:
    """(norm, surface without a leading clitic) of each word, stopwords kept (they are context)."""
    return [(t.norm, _form(text[t.start : t.end])[1]) for t in tokenize(text, keep_stopwords=True)]


def _same_root(a: str, b: str) -> bool:
    """Two forms of one word (تأسست / أسست, مرات / مره): one holds the other's first three letters
    after the other's prefix, or they share most letter pairs."""
    a, b = normalize(a), normalize(b)
    if a[-3:] in b or b[-3:] in a:
        return True
    pa, pb = {a[i : i + 2] for i in range(len(a) - 1)}, {b[i : i + 2] for i in range(len(b) - 1)}
    return len(pa & pb) >= 0.6 * min(len(pa), len(pb))


class NearMisses:
    """Built once over the training text (questions and paragraphs); ``make`` changes one question."""

    def __init__(self, texts: list[str], min_count: int = 3, contexts: int = 60, common: int = 200,
                 min_shared: int = 3):
        self.min_shared = min_shared
        count: Counter[str] = Counter()
        surface: dict[str, Counter[str]] = defaultdict(Counter)
        left: dict[str, Counter[str]] = defaultdict(Counter)
        right: dict[str, Counter[str]] = defaultdict(Counter)
        for text in texts:
            ws = _words(text)
            for i, (n, s) in enumerate(ws):
                count[n] += 1
                surface[n][s] += 1
                if i:
                    left[n][ws[i - 1][0]] += 1
                if i + 1 < len(ws):
                    right[n][ws[i + 1][0]] += 1
        self.count = count
        keep = {n for n, c in count.items() if c >= min_count and len(n) >= 3}
        # the commonest words («في», «من», «عام») follow and precede anything: no kind in them
        common = {n for n, _ in count.most_common(common)}
        self.surface = {n: surface[n].most_common(1)[0][0] for n in keep}
        # each word's commonest neighbours: its distributional signature
        self.ctx = {n: {("L", w) for w, c in left[n].most_common(contexts) if w not in common}
                    | {("R", w) for w, c in right[n].most_common(contexts) if w not in common} for n in keep}
        self.after: dict[str, set[str]] = defaultdict(set)  # left neighbour -> words seen after it
        self.before: dict[str, set[str]] = defaultdict(set)
        for n in keep:
            for side, w in self.ctx[n]:
                (self.after if side == "L" else self.before)[w].add(n)

    def candidates(self, norm: str, prev: str | None, nxt: str | None, limit: int = 12) -> list[str]:
        """Words seen in the same slot, most similar neighbours first."""
        mine = self.ctx.get(norm)
        if not mine:
            return []
        pool = (self.after.get(prev, set()) if prev else set()) | (self.before.get(nxt, set()) if nxt else set())
        scored = []
        for c in pool:
            if c == norm or soft_match(c, norm) or _same_root(c, norm):
                continue
            shared = len(mine & self.ctx[c])
            if shared >= self.min_shared:
                scored.append((shared / math.sqrt(len(mine) * len(self.ctx[c])), c))
        scored.sort(reverse=True)
        return [c for _, c in scored[:limit]]

    def make(self, question: str, passage: str, answer: str, rng: random.Random,
             prefer: set[str] = frozenset(), window: str = "") -> tuple[str, str] | None:
        """(changed question, "old -> new") or None when no word can be changed safely. The
        word changed is one the passage states (so the question points at the passage) and the
        answer does not hold (with ``window``, one the window the reader reads states); ``prefer`` (normalized terms: what the question asks about) is
        tried first half of the time."""
        pterms = {t.norm for t in tokenize(passage, keep_stopwords=True)}
        wterms = {t.norm for t in tokenize(window, keep_stopwords=True)} if window else pterms
        aterms = {t.norm for t in tokenize(answer)}
        toks = tokenize(question, keep_stopwords=True)
        norms = [t.norm for t in toks]
        options = [i for i, t in enumerate(toks)
                   if len(t.norm) >= 3 and t.norm not in aterms and normalize(t.norm) not in _SKIP
                   and (t.norm in wterms or any(soft_match(t.norm, p) for p in wterms))]
        if not options:
            return None
        # nouns (written with the article) and numbers first: a verb swapped is too often a synonym
        options = [i for i in options if question[toks[i].start : toks[i].end].lstrip("وفبلك").startswith("ال")
                   or _DIGITS.match(norms[i]) or rng.random() < 0.3] or options
        favoured = [i for i in options if norms[i] in prefer]
        order = favoured[:1] if favoured and rng.random() < 0.5 else []
        order += rng.sample(options, len(options))
        for i in order:
            t = toks[i]
            word = question[t.start : t.end]
            if _DIGITS.match(t.norm):
                new = self._number(t.norm, pterms, rng)
            else:
                clitic, rest = _form(word)
                definite = rest.startswith("ال")
                cands = [c for c in self.candidates(t.norm, norms[i - 1] if i else None,
                                                    norms[i + 1] if i + 1 < len(norms) else None)
                         if self.surface[c].startswith("ال") == definite  # the same form as written
                         and c not in pterms and not any(soft_match(c, p) for p in pterms)]
                if not cands:
                    continue
                new = clitic + self.surface[rng.choice(cands[:5])]
            if new is None or normalize(new) == normalize(word):
                continue
            return question[: t.start] + new + question[t.end :], f"{word} -> {new}"
        return None

    @staticmethod
    def _number(digits: str, pterms: set[str], rng: random.Random) -> str | None:
        n = int(digits.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")))
        for _ in range(10):
            if 1900 <= n <= 2100:
                new = n + rng.choice([-3, -2, -1, 1, 2, 3])
            else:
                new = max(1, round(n * rng.choice([0.5, 0.7, 1.5, 2, 3]) + rng.randint(-2, 2)))
            if str(new) not in pterms and new != n:
                return str(new)
        return None


def main() -> None:
    import argparse

    from training.reader_data import squad_items

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    items = [it for p in args.paths for it in squad_items(p)]
    nm = NearMisses(list(dict.fromkeys(c for _, c, *_ in items)) + [q for _, _, q, *_ in items])
    rng = random.Random(args.seed)
    shown = 0
    for title, context, q, ans, a0 in rng.sample(items, min(len(items), args.n * 3)):
        from rag.chunking import split_sentences

        window = next((context[s:e] for s, e in split_sentences(context) if s <= max(a0, 0) < e), context)
        made = nm.make(q, context + " " + title, ans, rng, window=window)
        if made:
            print(f"{q}\n  -> {made[0]}   [{made[1]}]   answer: {ans}")
            shown += 1
            if shown == args.n:
                break


if __name__ == "__main__":
    main()
