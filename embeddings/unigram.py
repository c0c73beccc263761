"""The base model's tokenizer (XLM-R Unigram, as transformers builds it for multilingual-e5-small)
in plain Python, for processes that must not hold the `tokenizers` library's copy of it.

Why: `tokenizers` keeps the 250k-piece Unigram model in a byte trie of hash maps that costs
~280 MB resident, more than the whole rest of an answering process; a dict of the pieces costs
~40 MB and tokenizes a question + sentence (~100 pieces) in about a millisecond.

What it reproduces, exactly (tests/test_unigram.py compares it with `tokenizers` over real text):
the special tokens split out of the raw text first (``<s>``, ``</s>``, ...; leftmost-longest),
no normalizer, white space split (Rust's ``char::is_whitespace``), Metaspace (``▁`` prepended to
each word that does not start with one, words split before each ``▁``), the Unigram Viterbi of
`tokenizers` (the first best path wins ties, unknown characters scored min - 10 and runs of
them fused into one ``<unk>``), character offsets as `tokenizers` gives them (a prepended
``▁`` is aligned with the word's first character), and the ``<s> A </s></s> B </s>`` pair
template with only the second text truncated."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

SPACE = "\u2581"
UNK_PENALTY = 10.0
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
# Rust's char::is_whitespace (Unicode White_Space), which WhitespaceSplit splits on
_WHITE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_WORDS = re.compile(f"[^{re.escape(_WHITE)}]+")


@dataclass
class Encoding:
    ids: list[int]
    offsets: list[tuple[int, int]]
    sequence_ids: list[int | None]

    @property
    def attention_mask(self) -> list[int]:
        return [1] * len(self.ids)


class UnigramTokenizer:
    """``encode(text)`` -> (ids, offsets) without special tokens; ``encode_pair`` with the template."""

    def __init__(self, pieces: list[str], scores: np.ndarray, unk_id: int):
        self.ids = {p: i for i, p in enumerate(pieces)}
        self.scores = [float(s) for s in scores]
        self.unk_id = unk_id
        self.unk_score = min(self.scores) - UNK_PENALTY
        self.max_len = max(len(p) for p in pieces)
        self.special = {t: self.ids[t] for t in SPECIAL_TOKENS}
        self._special = re.compile("|".join(re.escape(t) for t in sorted(SPECIAL_TOKENS, key=len, reverse=True)))
        self.bos, self.eos, self.pad = self.special["<s>"], self.special["</s>"], self.special["<pad>"]
        self._pieces = lru_cache(maxsize=20_000)(self._viterbi)  # words repeat: و, في, من, ...

    @classmethod
    def from_tokenizer_json(cls, path: Path) -> UnigramTokenizer:
        model = json.loads(Path(path).read_text(encoding="utf-8"))["model"]
        if model.get("type") != "Unigram" or model.get("byte_fallback"):
            raise ValueError(f"{path}: not a Unigram tokenizer without byte fallback")
        pieces = [p for p, _ in model["vocab"]]
        return cls(pieces, np.array([s for _, s in model["vocab"]]), model["unk_id"])

    # compact files: the pieces joined by NUL (none holds one) and their scores as float64
    def save(self, folder: Path) -> None:
        pieces = sorted(self.ids, key=self.ids.get)
        if any("\0" in p for p in pieces):
            raise ValueError("a piece holds NUL: cannot be saved this way")
        Path(folder, "pieces.txt").write_text("\0".join(pieces), encoding="utf-8")
        np.save(Path(folder, "scores.npy"), np.array(self.scores, dtype=np.float64))
        Path(folder, "unigram.json").write_text(json.dumps({"unk_id": self.unk_id, "n": len(pieces)}))

    @classmethod
    def load(cls, folder: Path) -> UnigramTokenizer:
        meta = json.loads(Path(folder, "unigram.json").read_text())
        pieces = Path(folder, "pieces.txt").read_text(encoding="utf-8").split("\0")
        if len(pieces) != meta["n"]:
            raise ValueError(f"{folder}: pieces.txt holds {len(pieces)} pieces, expected {meta['n']}")
        return cls(pieces, np.load(Path(folder, "scores.npy")), meta["unk_id"])

    # --- tokenizing -------------------------------------------------------------------------
    def _viterbi(self, s: str) -> tuple[tuple[int, int, int], ...]:
        """(start, end, id) of the best segmentation of ``s`` (`tokenizers`' encode_optimized)."""
        n = len(s)
        best = [0.0] + [0.0] * n
        start: list[int | None] = [0] + [None] * n
        tok = [0] * (n + 1)
        ids, scores, max_len = self.ids, self.scores, self.max_len
        for a in range(n):
            here = best[a]
            single = False
            for b in range(a + 1, min(n, a + max_len) + 1):
                i = ids.get(s[a:b])
                if i is None:
                    continue
                score = scores[i] + here
                if start[b] is None or score > best[b]:
                    best[b], start[b], tok[b] = score, a, i
                if b == a + 1:
                    single = True
            if not single:
                score = self.unk_score + here
                if start[a + 1] is None or score > best[a + 1]:
                    best[a + 1], start[a + 1], tok[a + 1] = score, a, self.unk_id
        out: list[tuple[int, int, int]] = []
        end = n
        while end > 0:
            a = start[end]
            if tok[end] == self.unk_id and out and out[-1][2] == self.unk_id and out[-1][0] == end:
                out[-1] = (a, out[-1][1], self.unk_id)  # fuse runs of unknown characters
            else:
                out.append((a, end, tok[end]))
            end = a
        return tuple(reversed(out))

    def _word(self, text: str, lo: int, hi: int, ids: list[int], offsets: list[tuple[int, int]]) -> None:
        """Pieces of the word text[lo:hi] (no white space in it), Metaspace then Unigram."""
        word = text[lo:hi]
        # (string, map from its chars to (start, end) in text): a prepended ▁ is aligned with the first char
        chars = [(k, k + 1) for k in range(lo, hi)]
        if not word.startswith(SPACE):
            word = SPACE + word
            chars = [chars[0]] + chars
        cuts = [k for k, c in enumerate(word) if c == SPACE and k > 0]
        for a, b in zip([0, *cuts], [*cuts, len(word)]):
            part = word[a:b]
            for s, e, i in self._pieces(part):
                if i == self.unk_id and s + 1 < e:
                    i = self.ids.get(part[s:e], self.unk_id)
                ids.append(i)
                offsets.append((chars[a + s][0], chars[a + e - 1][1]))

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        ids: list[int] = []
        offsets: list[tuple[int, int]] = []
        pos = 0
        for m in [*self._special.finditer(text), None]:
            end = m.start() if m else len(text)
            for w in _WORDS.finditer(text, pos, end):
                self._word(text, w.start(), w.end(), ids, offsets)
            if m:
                ids.append(self.special[m.group()])
                offsets.append((m.start(), m.end()))
                pos = m.end()
        return ids, offsets

    def encode_pair(self, first: str, second: str, max_length: int) -> Encoding:
        """``<s> first </s></s> second </s>``, ``second`` cut from the right to fit ``max_length``."""
        a_ids, a_off = self.encode(first)
        b_ids, b_off = self.encode(second)
        room = max_length - len(a_ids) - 4
        if room < 0:
            raise ValueError(f"the first text alone is {len(a_ids)} pieces: longer than max_length {max_length}")
        b_ids, b_off = b_ids[:room], b_off[:room]
        ids = [self.bos, *a_ids, self.eos, self.eos, *b_ids, self.eos]
        offsets = [(0, 0), *a_off, (0, 0), (0, 0), *b_off, (0, 0)]
        seq = [None, *[0] * len(a_ids), None, None, *[1] * len(b_ids), None]
        return Encoding(ids, offsets, seq)
