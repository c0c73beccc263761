"""Evaluation runs: ask every question through the engine and score each answer."""

from __future__ import annotations

import time

from rag.answer.question import QuestionError, question_type
from rag.engine import Sanad
from rag.evaluation import metrics
from rag.evaluation.sets import Question


def run(sanad: Sanad, questions: list[Question], progress: bool = True) -> dict:
    """Ask every question; return the report (see README "Evaluation")."""
    rows = []
    iterator = questions
    if progress:
        from tqdm import tqdm

        iterator = tqdm(questions, desc="evaluating", unit="q")
    sanad.ensure_ready()
    # a gold article kept as a syndicated copy of another: a hit on the story's indexed article counts
    originals = sanad.originals(s for q in questions for s in q.sources) if sanad.settings.dedupe else {}
    for q in iterator:
        turns = []
        for earlier in q.history:  # a conversation: its earlier questions asked in turn first
            turns.append(sanad.ask(earlier, history=turns).turn)
        t0 = time.perf_counter()
        try:
            ans = sanad.ask(q.question, history=turns)
            error = ""
        except QuestionError as exc:
            ans, error = None, str(exc)
        ms = (time.perf_counter() - t0) * 1000
        rows.append(_row(q, ans, error, ms, originals))
    return summarize(rows)


def _row(q: Question, ans, error: str, ms: float, originals: dict[str, str] | None = None) -> dict:
    abstained = True if ans is None else ans.abstained
    answer_text = "" if ans is None or ans.abstained else ans.answer
    ranked = [h.chunk.doc_id for h in ans.hits] if ans is not None else []
    quote = ans.citations[0].quote if ans is not None and ans.citations else ""
    sources = [c.quote for c in ans.citations] if ans is not None and not abstained else []
    gold = set(q.sources) | {originals[s] for s in q.sources if originals and s in originals}
    rank = metrics.first_gold_rank(ranked, gold) if gold else None
    row = {
        "id": q.id,
        "question": q.question,
        "type": question_type(q.question),
        "answerable": q.answerable,
        "gold_answers": q.answers,
        "gold_sources": q.sources,
        "about": q.about,
        "answer": answer_text,
        "abstained": abstained,
        "confidence": round(ans.confidence, 4) if ans is not None else None,
        "cited_chunks": [c.chunk_id for c in ans.citations] if ans is not None else [],
        "cited_docs": [c.doc_id for c in ans.citations] if ans is not None else [],
        "ranked_docs": ranked[:10],
        "gold_rank": rank,
        "quote": quote,
        "sources": len(sources),
        "related": len(getattr(ans, "related", []) or []) if ans is not None else 0,
        "variety": q.variety,
        "near_miss": q.near_miss,
        "history": q.history,
        "band": getattr(ans, "band", "refused") if ans is not None else "refused",
        "latency_ms": round(ms, 2),
        "error": error,
    }
    if q.answerable and q.answers:
        row["exact_match"] = 0.0 if abstained else metrics.exact_match(answer_text, q.answers)
        row["f1"] = 0.0 if abstained else metrics.f1(answer_text, q.answers)
        row["sentence_contains"] = 0.0 if abstained else metrics.contains(quote, q.answers)
        if sources:
            row["sources_with_answer"] = int(sum(metrics.contains(s, q.answers) for s in sources))
    return row


def _recall_elsewhere(answerable: list[dict], unanswerable: list[dict]) -> dict:
    """Refusal recall over the questions to refuse that were written on a title none of the
    answerable questions' articles has: a question about an indexed title («نجيب محفوظ» in
    ARCD-train and ARCD-test) may be answerable after all. Only when titles are known (SQuAD)."""
    indexed = {r.get("about") for r in answerable} - {"", None}
    elsewhere = [r for r in unanswerable if r.get("about") and r["about"] not in indexed]
    if not indexed or not elsewhere or len(elsewhere) == len(unanswerable):
        return {}
    return {"recall_other_titles": round(metrics.mean([r["abstained"] for r in elsewhere]), 4),
            "to_refuse_on_indexed_titles": len(unanswerable) - len(elsewhere)}


def citations(rows: list[dict]) -> dict:
    """Over the answered questions: the share of sources that contain a gold answer (answerable
    questions with gold answers only), and how many sources and related passages an answer has."""
    answered = [r for r in rows if not r["abstained"]]
    judged = [r for r in answered if "sources_with_answer" in r]
    total = sum(r.get("sources", 0) for r in judged)
    return {
        "precision": sum(r["sources_with_answer"] for r in judged) / total if total else None,
        "sources_per_answer": metrics.mean([r.get("sources", 0) for r in answered]),
        "related_per_answer": metrics.mean([r.get("related", 0) for r in answered]),
    }


CONFIDENT = 0.9  # "confident answers": given at this confidence or more


def confidence_report(rows: list[dict]) -> dict:
    """What the confidence is worth: of the answers given at CONFIDENT or more, the share that
    is right (F1 >= 0.5 on an answerable question; an answer to an unanswerable one is wrong);
    the closest-passage band's size; near misses (``near_miss`` questions) refused."""
    confident = [r for r in rows if not r["abstained"] and (r.get("confidence") or 0) >= CONFIDENT]
    right = [r.get("f1", 0.0) >= 0.5 if r["answerable"] else False for r in confident]
    near = [r for r in rows if r.get("near_miss")]
    return {"confident_answers": len(confident), "confident_right": metrics.mean(right),
            "closest_band": metrics.mean([r.get("band") == "closest" for r in rows]),
            "near_misses": len(near), "near_misses_refused": metrics.mean([r["abstained"] for r in near])}


def by_variety(rows: list[dict]) -> dict[str, dict]:
    """Per variety of the question (MSA, a dialect, English), when the set names them: F1, EM,
    sentence_contains, the share of answerable questions refused, hit@1."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("variety"):
            groups.setdefault(r["variety"], []).append(r)
    out = {}
    for v, rs in groups.items():
        scored = [r for r in rs if "f1" in r]
        answerable = [r for r in rs if r["answerable"]]
        out[v] = {
            "n": len(rs),
            "f1": metrics.mean([r["f1"] for r in scored]),
            "exact_match": metrics.mean([r["exact_match"] for r in scored]),
            "sentence_contains": metrics.mean([r["sentence_contains"] for r in scored]),
            "false_abstain_rate": metrics.mean([float(r["abstained"]) for r in answerable]),
            "hit@1": metrics.hit_at([r["gold_rank"] for r in rs if r["gold_sources"]], 1),
        }
    return out


def summarize(rows: list[dict]) -> dict:
    with_gold = [r for r in rows if r["gold_sources"]]
    ranks = [r["gold_rank"] for r in with_gold]
    scored = [r for r in rows if "f1" in r]
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    lat = [r["latency_ms"] for r in rows]
    varieties = by_variety(rows)

    def rnd(x):
        return None if x is None else round(x, 4)

    return {
        "questions": len(rows),
        "retrieval": {
            "hit@1": rnd(metrics.hit_at(ranks, 1)),
            "hit@3": rnd(metrics.hit_at(ranks, 3)),
            "hit@5": rnd(metrics.hit_at(ranks, 5)),
            "mrr": rnd(metrics.mrr(ranks)),
        },
        "answer": {
            "exact_match": rnd(metrics.mean([r["exact_match"] for r in scored])),
            "f1": rnd(metrics.mean([r["f1"] for r in scored])),
            "sentence_contains": rnd(metrics.mean([r["sentence_contains"] for r in scored])),
        },
        "abstention": {
            k: rnd(v)
            for k, v in metrics.abstention(
                [r["abstained"] for r in answerable], [r["abstained"] for r in unanswerable]
            ).items()
        } | _recall_elsewhere(answerable, unanswerable),
        "citations": {k: rnd(v) for k, v in citations(rows).items()},
        "confidence": {k: rnd(v) if isinstance(v, float) else v for k, v in confidence_report(rows).items()},
        "latency_ms": {"p50": rnd(metrics.percentile(lat, 0.5)), "p95": rnd(metrics.percentile(lat, 0.95))},
        **({"by_variety": {v: {k: rnd(x) if k != "n" else x for k, x in m.items()} for v, m in varieties.items()}}
           if varieties else {}),
        "rows": rows,
    }
