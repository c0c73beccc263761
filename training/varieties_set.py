"""The reader's training view of one half of the belebele-eqa questions, in every variety.

    python -m training.varieties_set --half 0 --out .sanad/varieties-half0.json [--data ../shared/data/belebele-eqa/dev]

Writes SQuAD v1.1 (training/reader.py --train reads it): each passage of half K
(bench/varieties.py ``half_of``) once, with the questions of all seven varieties on it, each
question as the reader reads it at run time (rag/answer/extractive.py ``reader_text``: a
dialect question in its MSA words, English and MSA as written). Train on one half, measure on
the other with ``bench/varieties.py --half``; ``--half all`` writes every passage (the set a
shipped reader would be trained on; the belebele dev split is CC BY-SA 4.0)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from bench.varieties import VARIETIES, half_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "belebele-eqa" / "dev")
    ap.add_argument("--half", required=True, choices=("0", "1", "all"))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    from rag.answer.extractive import reader_text
    from rag.answer.question import Question

    passages: dict[str, dict] = {}
    for stem in VARIETIES:
        for art in json.loads((args.data / f"{stem}.json").read_text(encoding="utf-8"))["data"]:
            if args.half != "all" and half_of(art["title"]) != int(args.half):
                continue
            for para in art["paragraphs"]:
                entry = passages.setdefault(art["title"] + "\n" + para["context"],
                                            {"title": art["title"], "context": para["context"], "qas": []})
                for qa in para["qas"]:
                    entry["qas"].append({**qa, "question": reader_text(Question.parse(qa["question"]))})
    if not passages:
        raise SystemExit(f"bench/varieties_train_set.py: no passages in {args.data}")
    data = [{"title": p["title"], "paragraphs": [{"context": p["context"], "qas": p["qas"]}]} for p in passages.values()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"version": "1.1", "data": data}, ensure_ascii=False), encoding="utf-8")
    print(f"{len(data)} passages, {sum(len(p['qas']) for p in passages.values())} questions -> {args.out}")


if __name__ == "__main__":
    main()
