"""Follow-up questions, as a conversation against the way they were answered before
(issue 41), in one run over one index:

    SANAD_HOME=... python -m bench.followups tests/data/seeds-followups.jsonl bench/data/news-followups.jsonl

``conversation``: ``Sanad.ask(question, history=[earlier turns])`` (the previous answer's
articles read first, the previous answer never repeated). ``rewrite only``: what the bot did
before: the follow-up with the previous question's content words appended, asked on its own.
A pair is right when the answer's F1 against a gold answer is at least 0.5. Prints one line per
set and variety, and the pairs each way gets wrong."""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path



def old_rewrite(question: str, previous: str) -> str:
    """The rewrite before issue 41: the opener kept, the previous question's words appended."""
    from rag.followup import is_followup
    from rag.lexicon import tokenize
    from rag.normalize import is_arabic, soft_match

    if not is_followup(question):
        return question
    have = [t.norm for t in tokenize(question)]
    extra = []
    for tok in tokenize(previous):
        word = previous[tok.start : tok.end]
        if not any(soft_match(tok.norm, t) for t in have) and word not in extra:
            extra.append(word)
    mark = "؟" if is_arabic(question) else "?"
    return f"{question.strip().rstrip('؟?').strip()} {' '.join(extra)}{mark}" if extra else question


def main() -> None:
    from rag import Sanad
    from rag.evaluation import metrics
    from rag.evaluation.sets import read_questions

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="+", type=Path)
    a = ap.parse_args()
    sanad = Sanad()
    sanad.ensure_ready()
    for path in a.sets:
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        wrong = {"conversation": [], "rewrite only": []}
        for q in read_questions(path):
            turns = []
            for earlier in q.history:
                turns.append(sanad.ask(earlier, history=turns).turn)
            now = sanad.ask(q.question, history=turns)
            before = sanad.ask(old_rewrite(q.question, q.history[-1]) if q.history else q.question)
            for key in ("all", q.variety or "-"):
                tally[key][0] += 1
            for k, (name, ans) in enumerate((("conversation", now), ("rewrite only", before)), 1):
                ok = not ans.abstained and metrics.f1(ans.answer, q.answers) >= 0.5
                if ok:
                    for key in ("all", q.variety or "-"):
                        tally[key][k] += 1
                else:
                    wrong[name].append(f"{q.id} {q.question} -> {'(refused)' if ans.abstained else ans.answer[:40]}")
        print(f"{path.name}: pairs / right as a conversation / right with the rewrite only")
        for key, (n, conv, old) in sorted(tally.items(), key=lambda kv: kv[0] != "all"):
            print(f"  {key:10s} {n:3d}  {conv:3d} ({conv / n:.0%})  {old:3d} ({old / n:.0%})")
        for name, items in wrong.items():
            print(f"  wrong, {name}: " + "; ".join(items))


if __name__ == "__main__":
    main()
