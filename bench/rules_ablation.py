"""Which hand rules of the answer stage still earn their place beside the trained reader:
each rule turned off alone, then all of them, over held-out questions from three sources.

    OMP_NUM_THREADS=1 python bench/rules_ablation.py --arcd-train ../shared/data/arcd/arcd-train.json \\
        --news ../shared/data/news/dev-articles.jsonl ../shared/data/news/dev-questions.jsonl \\
        --belebele ../shared/data/belebele-eqa/dev --json out/rules_ablation.json

The rules (rag/answer/extractive.py ``choose`` / ``rules_win``) where the reader's span is
replaced: ``when`` (a «متى» question gets the date rule's span), ``slack`` (the reader scores
the rule's span within RULE_SLACK of its own best), ``counted`` (a «كم» question's counted
noun), ``subject`` (the subject of the verb a «من + فعل» question asks about), ``qualifier``
(the reader's best span after the question's qualifier, when it named someone otherwise
qualified). One more, ``measure`` (the question names its answer's form, a percentage or a
duration), was measured by this script and removed; docs/quality.md has its row.
Yes/no questions keep their whole sentence in every row: that is what the answer is, not a
span choice.

Sets, none of them trained on by the shipped reader: the ARCD-train titles it held out
(bench/train_reader.py --dev-share 0.2; the index holds all of ARCD-train), the news dev
questions over their 45 articles, and belebele-eqa dev (7 varieties, 79 passages). The reader's
forward passes are made once per question and remembered, so each row costs only retrieval and
the choice. Only the span changes between rows: which sentence is chosen, the refusals and the
citations' first sentence do not depend on these rules, so F1 and EM over the answered
questions are the measure (printed per set, with the questions each rule changed).
Never run on a test split.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RULES = ("when", "slack", "counted", "subject", "qualifier")


class RememberingReader:
    """The shipped reader, each (question, windows, rules, regions) read once."""

    def __init__(self, reader):
        self.reader = reader
        self.memo: dict = {}

    def read(self, question, windows, others=None, regions=None, **kw):
        key = (question, tuple(windows), tuple(others or ()), tuple(regions or ()), tuple(sorted(kw.items())))
        if key not in self.memo:
            self.memo[key] = self.reader.read(question, windows, others, regions, **kw)
        return self.memo[key]

    @property
    def margin_map(self):
        return self.reader.margin_map


def patch(off: set[str]):
    """rag.answer.extractive with the rules in ``off`` turned off (restored by the caller)."""
    from rag.answer import extractive as X

    original = {"RULE_TYPES": X.RULE_TYPES, "otherwise_qualified": X.otherwise_qualified, "OVERRIDES": X.OVERRIDES}
    X.RULE_TYPES = frozenset(t for t in original["RULE_TYPES"] if not (t == "when" and "when" in off))
    if "qualifier" in off:
        X.otherwise_qualified = lambda *a, **k: False
    X.OVERRIDES = {name: rule for name, rule in original["OVERRIDES"].items() if name not in off}
    return original


def restore(original: dict) -> None:
    from rag.answer import extractive as X

    X.RULE_TYPES = original["RULE_TYPES"]
    X.otherwise_qualified = original["otherwise_qualified"]
    X.OVERRIDES = original["OVERRIDES"]


def heldout_sets(arcd_train: Path | None, news: list[Path] | None, belebele: Path | None) -> list[tuple]:
    """(name, articles, questions) of the held-out sources the shipped reader never trained on:
    the ARCD-train titles it held out (the index holds all of ARCD-train), the news dev questions
    over their articles, belebele-eqa dev in its 7 varieties."""
    from bench.train_reader import held_out
    from bench.varieties import load as load_belebele
    from rag import evaluation as ev
    from rag.loaders import load_corpus
    from rag.records import Article

    sets = []
    if arcd_train:
        if "test" in arcd_train.name:
            raise SystemExit("never on a test split")
        arts, qs = ev.read_squad(arcd_train)
        titles = {a.doc_id: a.title for a in arts}
        sets.append(("arcd-train held out", arts, [q for q in qs if held_out(titles[q.sources[0]], 0.2)]))
    if news:
        arts = [a for a in load_corpus(news[0], 10**9) if isinstance(a, Article)]
        sets.append(("news dev", arts, ev.read_questions(news[1])))
    if belebele:
        arts, qs = load_belebele(belebele, 0)
        sets.append(("belebele dev", arts, qs))
    if not sets:
        raise SystemExit("give at least one of --arcd-train, --news, --belebele")
    return sets


def score(sanad, questions) -> dict:
    from rag import evaluation as ev

    rep = ev.run(sanad, questions, progress=False)
    answered = [r for r in rep["rows"] if r.get("answerable") and not r["abstained"]]
    n = max(len(answered), 1)
    return {"answered": len(answered), "f1": round(sum(r["f1"] for r in answered) / n, 4),
            "em": round(sum(r["exact_match"] for r in answered) / n, 4),
            "answers": {r["id"]: r["answer"] for r in answered}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arcd-train", type=Path)
    ap.add_argument("--news", type=Path, nargs=2, metavar=("ARTICLES", "QUESTIONS"))
    ap.add_argument("--belebele", type=Path)
    ap.add_argument("--json", type=Path, default=Path("out/rules_ablation.json"))
    args = ap.parse_args()

    from config import load_settings
    from rag import Sanad

    sets = heldout_sets(args.arcd_train, args.news, args.belebele)

    variants = [("all rules (shipped)", set())] + [(f"without {r}", {r}) for r in RULES] + \
               [("reader only", set(RULES))]
    base = load_settings()
    results = {}
    for name, arts, qs in sets:
        home = Path(tempfile.mkdtemp(prefix="sanad-rules-"))
        try:
            sanad = Sanad(load_settings(home=home, cache_dir=str(base.cache_path), corpus=""))
            sanad.ingest_articles(arts, progress=False)
            sanad.ensure_ready()
            sanad.answerer.reader = RememberingReader(sanad.answerer.reader)
            shipped = None
            for label, off in variants:
                original = patch(off)
                try:
                    row = score(sanad, qs)
                finally:
                    restore(original)
                answers = row.pop("answers")
                shipped = shipped or answers
                row["changed"] = sum(1 for k, v in answers.items() if shipped.get(k) != v)
                results.setdefault(name, {})[label] = row
                print(json.dumps({"set": name, "variant": label, **row}, ensure_ascii=False), flush=True)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    names = list(results)
    print("| variant | " + " | ".join(f"{n}: F1 / EM (changed)" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for label, _ in variants:
        cells = [f"{results[n][label]['f1']:.3f} / {results[n][label]['em']:.3f} ({results[n][label]['changed']})"
                 for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("answered: " + ", ".join(f"{n} {results[n][variants[0][0]]['answered']}" for n in names))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
