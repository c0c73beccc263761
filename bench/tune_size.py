"""Fit the refusal models' index-size correction: how much surer the evidence must be read as
the index grows past the size the models were fitted at.

    python bench/tune_size.py ../shared/data/arcd/arcd-train.json \\
        --distractors ../shared/data/tydiqa/tydiqa-goldp-dev-ar.json ../shared/data/mlqa/mlqa-dev-ar.json \\
            ../shared/data/reader/aaqad-ar.json \\
        --sizes 0 1300 4400 --index-dir .sanad/tune-size [--write]

The refusal evidence (rag/answer/refusal.py) says how far the best passage stands out from the
other candidates of the question. bench/tune.py fits the models over indexes of about 200
chunks (three quarters of ARCD-train); in an index of thousands of articles every question's 40
candidates are nearer to it, the same evidence reads weaker, and answerable questions are
refused (real news, 30,100 articles: 26% refused against 10% at 2,000). Here each of tune.py's
four setups is indexed again with ``--sizes`` other Arabic paragraphs added (TyDi, MLQA, AAQAD;
none of an ARCD-train title), its questions asked as tune.py asks them (the answerable ones only
from the titles the shipped reader held out, ``--dev-share``; the held-out quarter's to refuse),
and one number per model is fitted: the slope ``s`` of the log-odds correction
``s * ln(chunks / size_base)`` (weighted logistic regression with the model's own log-odds as
offset; answerable rows weighted so that the two classes stand 3:1, as in tune.py's fit).
``size_base`` is the mean chunk count of tune.py's setups. Size 0 rows (tune.py's own indexes)
are asked too and printed for comparison, not fitted on. ``--write`` stores ``size_base`` and
``size_slope`` in both weights files (rerun this after bench/tune.py --write). Never run this on
a test set.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from config import load_settings
from rag import Sanad
from rag import evaluation as ev
from rag.answer import refusal as abstention
from rag.answer.question import clean_question
from rag.chunking import chunk_article
from rag.normalize import normalize


def rows(sanad: Sanad, answerers: dict, questions: list[ev.Question]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {mode: [] for mode in answerers}
    for q in questions:
        text, _ = clean_question(q.question, sanad.settings.max_question_chars)
        retrieved = sanad.retrieve(text)
        for mode, answerer in answerers.items():
            sig = answerer.evidence(text, retrieved) or abstention.signals(retrieved, 0.0)
            out[mode].append(sig | {"answerable": q.answerable})
    return out


def fit_slope(z0: np.ndarray, g: np.ndarray, y: np.ndarray, w: np.ndarray, steps: int = 50) -> float:
    """Weighted logistic regression of y on s * g with offset z0: the one slope s."""
    s = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z0 + s * g)))
        grad = float(np.sum(w * (p - y) * g))
        hess = float(np.sum(w * p * (1 - p) * g * g)) + 1e-9
        s -= grad / hess
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("squad", type=Path)
    ap.add_argument("--distractors", type=Path, nargs="+", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[0, 1300, 4400], help="distractor paragraphs added")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--dev-share", type=float, default=0.2, help="as given to bench/train_reader.py")
    ap.add_argument("--index-dir", type=Path)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if "test" in args.squad.name or any("test" in p.name for p in args.distractors):
        raise SystemExit("never tune on a test set")
    from bench.train_reader import held_out

    base = load_settings()
    articles, questions = ev.read_squad(args.squad)
    titles = sorted({a.title for a in articles})
    own_titles = {normalize(t.replace("_", " ")) for t in titles}
    pool = [replace(a, doc_id=f"{path.stem}:{a.doc_id}") for path in args.distractors for a in ev.read_squad(path)[0]
            if normalize(a.title.replace("_", " ")) not in own_titles]
    random.Random(0).shuffle(pool)
    print(f"{len(pool)} distractor paragraphs (none of an ARCD-train title)")
    clean = {a.doc_id for a in articles if held_out(a.title, args.dev_share)}
    models = {"reader": abstention.AbstentionModel.load(reader=True), "rules": abstention.AbstentionModel.load()}
    thresholds = {"reader": base.abstain_threshold_reader, "rules": base.abstain_threshold}

    sizes_base = []
    data: dict[str, dict[int, list[dict]]] = {m: {} for m in models}
    root = args.index_dir or Path(tempfile.mkdtemp(prefix="sanad-tune-size-"))
    for h in range(args.folds):
        held = set(titles[h :: args.folds])
        indexed = [a for a in articles if a.title not in held]
        ids = {a.doc_id for a in indexed}
        sizes_base.append(sum(len(chunk_article(a, base.chunk_max_chars, base.chunk_overlap_sentences)) for a in indexed))
        asked = [q for q in questions if q.sources[0] in ids and q.sources[0] in clean]
        asked += ev.as_unanswerable([q for q in questions if q.sources[0] not in ids])
        for k in args.sizes:
            sanad = Sanad(load_settings(home=root / f"setup{h}-plus{k}", cache_dir=str(base.cache_path), corpus=""))
            if sanad.store.count() == 0:
                sanad.ingest_articles(indexed + pool[:k])
            reader = sanad.reader()
            answerers = {"reader": sanad.extractive_answerer(reader, 0.0, model=models["reader"]),
                         "rules": sanad.extractive_answerer(None, 0.0, model=models["rules"])}
            got = rows(sanad, answerers, asked)
            print(f"setup {h} + {k} paragraphs: {sanad.store.count()} chunks; "
                  f"{sum(q.answerable for q in asked)} answerable, {sum(not q.answerable for q in asked)} to refuse",
                  file=sys.stderr)
            for mode in models:
                data[mode].setdefault(k, []).extend(got[mode])
    size_base = float(np.mean(sizes_base))
    print(f"size_base = {size_base:.0f} chunks (tune.py's setups)")

    fitted = {}
    for mode, model in models.items():
        plain = replace(model, size_base=size_base, size_slope=0.0)
        fit_rows = [r for k, rs in data[mode].items() if k > 0 for r in rs]
        z0 = np.array([np.log(p / (1 - p)) for p in (plain.probability(r) for r in fit_rows)])
        g = np.array([plain.growth(r["index_chunks"]) for r in fit_rows])
        y = np.array([float(r["answerable"]) for r in fit_rows])
        w = np.where(y == 1, 3.0 * (y == 0).sum() / max((y == 1).sum(), 1), 1.0)
        slope = fit_slope(z0, g, y, w)
        fitted[mode] = replace(model, size_base=size_base, size_slope=slope)
        thr = thresholds[mode]
        print(f"\nrefusal model '{mode}': size_slope = {slope:.4f} (threshold {thr})")
        print("| distractors | chunks (mean) | answerable refused, uncorrected / corrected | refusal recall, uncorrected / corrected |")
        print("|---|---|---|---|")
        for k, rs in sorted(data[mode].items()):
            ans = [r for r in rs if r["answerable"]]
            una = [r for r in rs if not r["answerable"]]

            def rate(m, group):
                return np.mean([m.probability(r) < thr for r in group]) if group else float("nan")

            print(f"| {k} | {np.mean([r['index_chunks'] for r in rs]):.0f} | {rate(plain, ans):.3f} / "
                  f"{rate(fitted[mode], ans):.3f} | {rate(plain, una):.3f} / {rate(fitted[mode], una):.3f} |")
    if args.write:
        import json

        for mode, path in (("reader", abstention.READER_WEIGHTS_FILE), ("rules", abstention.WEIGHTS_FILE)):
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc["size_base"] = round(size_base, 1)
            doc["size_slope"] = round(fitted[mode].size_slope, 5)
            doc["size_made_by"] = "bench/tune_size.py"
            path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            print(f"wrote size_base and size_slope to {path}")


if __name__ == "__main__":
    main()
