"""Dialect rewrites of MSA questions, made by the varieties lexicon in reverse, and what the
reader would read of them.

    python bench/dialect_rewrites.py ../shared/data/arcd/arcd-train.json [--seed 23] [--show 4] [--out FILE]

Each MSA question gets one rewrite per variety (seeded): every word that some dialect form in
rag/answer/varieties.json spells (an interrogative, a function word, a content word) is
replaced by one of that variety's forms, chosen at random; Egyptian and Iraqi put a «where»
or «when» last («الوزير راح فين؟»), as people write them. A question no word of which the
variety spells is left out. For each variety it prints how many questions were rewritten, a
few samples to check by eye, and how many of them the lexicon brings back to the MSA question
(``msa_form``, the text the reader reads at run time, rag/answer/extractive.py ``reader_text``):
word for word, and with the same content terms (rag.normalize.terms: retrieval's and coverage's
view). Those rewrites would train the reader on the MSA question again. ``--out`` writes the rewrites
as SQuAD v1.1 (bench/train_reader.py --train reads it), each question as the reader reads it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer.varieties import LEXICON_FILE, lexicon, msa_form  # noqa: E402
from rag.normalize import normalize, terms  # noqa: E402

VARIETIES = ("egyptian", "levantine", "gulf", "iraqi", "maghrebi")
# interrogatives the variety often puts last, normalized
LAST = {v: {normalize(w) for w in ws} for v, ws in {"egyptian": ("أين", "متى"), "iraqi": ("أين",)}.items()}
INTERROGATIVES = lexicon().msa_interrogatives  # the lexicon loads and checks itself first
_WORD = re.compile(r"[\w\u0600-\u06FF]+|[^\w\s]", re.UNICODE)


def reverse_maps() -> dict[str, dict[str, list[str]]]:
    """Per variety: a normalized MSA word -> the dialect forms whose role it is. Ambiguous
    forms (also MSA words) and tags are left out: a rewrite should read as the variety."""
    raw = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    ambiguous = {normalize(w) for w in raw.get("ambiguous", [])}
    tags = set(raw["msa"]["tags"])
    out: dict[str, dict[str, list[str]]] = {}
    for variety in VARIETIES:
        rev: dict[str, list[str]] = defaultdict(list)
        for kind in ("interrogatives", "function_words", "words"):
            for form, role in raw["varieties"][variety].get(kind, {}).items():
                if role in tags or normalize(form) in ambiguous or len(role.split()) > 1 or len(form.split()) > 1:
                    continue
                rev[normalize(role)].append(form)
        out[variety] = dict(rev)
    return out


def rewrite(question: str, variety: str, rev: dict[str, list[str]], rng: random.Random) -> str | None:
    """The question in ``variety``'s words, or None when the lexicon spells none of them."""
    tokens = _WORD.findall(question)
    first = next((i for i, t in enumerate(tokens) if re.match(r"\w", t)), 0)
    out, changed, last = [], False, None
    for i, t in enumerate(tokens):
        n = normalize(t)
        forms = rev.get(n)
        if n in INTERROGATIVES and i != first:
            forms = None  # «من» and «ما» inside a question are a preposition and a negation
        if forms:
            form = rng.choice(forms)
            if i == first and n in LAST.get(variety, ()) and rng.random() < 0.5:
                last, changed = form, True
                continue
            out.append(form)
            changed = True
        else:
            out.append(t)
    if not changed:
        return None
    if last:
        end = out.pop() if out and out[-1] in "?؟" else "؟"
        out += [last, end]
    text = " ".join(out)
    return re.sub(r"\s+([?؟،,.])", r"\1", text)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", normalize(text))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("squad", type=Path, help="a SQuAD file of MSA questions (not ARCD-test)")
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--show", type=int, default=4, help="samples printed per variety")
    ap.add_argument("--out", type=Path, help="write the rewrites (as the reader reads them) as SQuAD v1.1")
    args = ap.parse_args()
    if "arcd-test" in args.squad.name:
        sys.exit("ARCD-test is the measure: rewrite another set")
    data = json.loads(args.squad.read_text(encoding="utf-8"))["data"]
    questions = [(qa, p) for art in data for p in art["paragraphs"] for qa in p["qas"]]
    maps = reverse_maps()
    rng = random.Random(args.seed)
    print(f"{len(questions)} MSA questions from {args.squad.name}, seed {args.seed}")
    print(f"{'variety':10} {'rewritten':>9} {'read as MSA again':>18} {'same terms':>11}")
    out_data = []
    for variety in VARIETIES:
        rewritten = same = same_words = 0
        samples = []
        for qa, p in questions:
            q = qa["question"]
            if msa_form(q).variety != "msa":
                continue
            r = rewrite(q, variety, maps[variety], rng)
            if r is None:
                continue
            rewritten += 1
            back = msa_form(r)
            read = back.text if back.variety == "dialect" else r
            same += words(read) == words(q)
            same_words += set(terms(read)) == set(terms(q))
            if len(samples) < args.show:
                samples.append((q, r, read))
            out_data.append({"title": f"{variety}", "paragraphs": [
                {"context": p["context"], "qas": [{**qa, "id": f"{qa['id']}-{variety}", "question": read}]}]})
        print(f"{variety:10} {rewritten:9d} {same / max(rewritten, 1):18.3f} {same_words / max(rewritten, 1):11.3f}")
        for q, r, read in samples:
            print(f"    {q}  ->  {r}  ->  {read}")
    if args.out:
        args.out.write_text(json.dumps({"version": "1.1", "data": out_data}, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {len(out_data)} questions to {args.out}")


if __name__ == "__main__":
    main()
