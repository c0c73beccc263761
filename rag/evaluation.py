"""Evaluation runs: read question sets (JSONL or SQuAD v1.1), ask every question through
the engine, score the answers and write report.json / report.md / report.png."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag import metrics
from rag.questions import question_type
from rag.engine import QuestionError, Sanad
from rag.loaders import clean_id
from rag.records import Article

log = logging.getLogger(__name__)


@dataclass
class Question:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    answerable: bool = True
    sources: list[str] = field(default_factory=list)


def read_jsonl(path: Path) -> list[Question]:
    """The fixed question-set format: one JSON object a line."""
    out = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            answers = [str(a) for a in rec.get("answers") or []]
            out.append(
                Question(
                    id=str(rec.get("id", f"line{lineno}")),
                    question=str(rec["question"]),
                    answers=answers,
                    answerable=bool(rec.get("answerable", bool(answers))),
                    sources=[clean_id(s) for s in rec.get("sources") or []],
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} line {lineno}: not a question record ({exc})") from None
    return out


def read_squad(path: Path) -> tuple[list[Article], list[Question]]:
    """SQuAD v1.1: every paragraph an article ``<title>/<index>``, its questions gold on it."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    articles, questions = [], []
    for entry in data["data"]:
        title = entry.get("title", "untitled").strip()
        for i, para in enumerate(entry["paragraphs"]):
            doc_id = clean_id(f"{title}/{i}")
            articles.append(Article(doc_id=doc_id, title=title, text=para["context"], source=str(path)))
            for qa in para["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                questions.append(Question(str(qa["id"]), qa["question"], answers, bool(answers), [doc_id]))
    return articles, questions


def read_questions(path: Path) -> list[Question]:
    path = Path(path)
    if path.suffix.lower() == ".json":
        return read_squad(path)[1]
    return read_jsonl(path)


def as_unanswerable(questions: list[Question]) -> list[Question]:
    return [Question(f"unanswerable:{q.id}", q.question, [], False, []) for q in questions]


# --- running ---------------------------------------------------------------------------
def run(sanad: Sanad, questions: list[Question], progress: bool = True) -> dict:
    """Ask every question; return the report (see README "Evaluation")."""
    rows = []
    iterator = questions
    if progress:
        from tqdm import tqdm

        iterator = tqdm(questions, desc="evaluating", unit="q")
    sanad.ensure_ready()
    for q in iterator:
        t0 = time.perf_counter()
        try:
            ans = sanad.ask(q.question)
            error = ""
        except QuestionError as exc:
            ans, error = None, str(exc)
        ms = (time.perf_counter() - t0) * 1000
        rows.append(_row(q, ans, error, ms))
    return summarize(rows)


def _row(q: Question, ans, error: str, ms: float) -> dict:
    abstained = True if ans is None else ans.abstained
    answer_text = "" if ans is None or ans.abstained else ans.answer
    ranked = [h.chunk.doc_id for h in ans.hits] if ans is not None else []
    quote = ans.citations[0].quote if ans is not None and ans.citations else ""
    gold = set(q.sources)
    rank = metrics.first_gold_rank(ranked, gold) if gold else None
    row = {
        "id": q.id,
        "question": q.question,
        "type": question_type(q.question),
        "answerable": q.answerable,
        "gold_answers": q.answers,
        "gold_sources": q.sources,
        "answer": answer_text,
        "abstained": abstained,
        "confidence": round(ans.confidence, 4) if ans is not None else None,
        "cited_chunks": [c.chunk_id for c in ans.citations] if ans is not None else [],
        "cited_docs": [c.doc_id for c in ans.citations] if ans is not None else [],
        "ranked_docs": ranked[:10],
        "gold_rank": rank,
        "quote": quote,
        "latency_ms": round(ms, 2),
        "error": error,
    }
    if q.answerable and q.answers:
        row["exact_match"] = 0.0 if abstained else metrics.exact_match(answer_text, q.answers)
        row["f1"] = 0.0 if abstained else metrics.f1(answer_text, q.answers)
        row["sentence_contains"] = 0.0 if abstained else metrics.contains(quote, q.answers)
    return row


def summarize(rows: list[dict]) -> dict:
    with_gold = [r for r in rows if r["gold_sources"]]
    ranks = [r["gold_rank"] for r in with_gold]
    scored = [r for r in rows if "f1" in r]
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    lat = [r["latency_ms"] for r in rows]

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
        },
        "latency_ms": {"p50": rnd(metrics.percentile(lat, 0.5)), "p95": rnd(metrics.percentile(lat, 0.95))},
        "rows": rows,
    }


# --- reports ---------------------------------------------------------------------------
def write_report(report: dict, out: Path, title: str = "Sanad evaluation") -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", out / "report.png"]
    paths[0].write_text(json.dumps(report, ensure_ascii=False, indent=1))
    paths[1].write_text(markdown(report, title))
    chart(report, paths[2])
    return paths


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def by_type(rows: list[dict]) -> dict[str, dict]:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if "f1" in r:
            groups.setdefault(r["type"], []).append(r)
    return {
        t: {
            "n": len(rs),
            "f1": metrics.mean([r["f1"] for r in rs]),
            "sentence_contains": metrics.mean([r["sentence_contains"] for r in rs]),
            "hit@1": metrics.hit_at([r["gold_rank"] for r in rs if r["gold_sources"]], 1),
        }
        for t, rs in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    }


def diagnose(rows: list[dict]) -> dict[str, float | None]:
    """Which stage loses each answerable question first: refusal, retrieval (gold source not
    ranked first), sentence choice (quoted sentence lacks the answer), span (F1 < 0.5)."""
    scored = [r for r in rows if "f1" in r]
    n = len(scored)
    if not n:
        return {}
    refused = [r for r in scored if r["abstained"]]
    rest = [r for r in scored if not r["abstained"]]
    not_first = [r for r in rest if r["gold_sources"] and r["gold_rank"] != 1]
    rest = [r for r in rest if r not in not_first]
    wrong_sentence = [r for r in rest if not r["sentence_contains"]]
    rest = [r for r in rest if r["sentence_contains"]]
    weak_span = [r for r in rest if r["f1"] < 0.5]
    return {
        "refused although answerable": len(refused) / n,
        "gold source not ranked first": len(not_first) / n,
        "quoted sentence lacks the answer": len(wrong_sentence) / n,
        "sentence right, span F1 < 0.5": len(weak_span) / n,
        "span F1 >= 0.5": (len(rest) - len(weak_span)) / n,
    }


def markdown(report: dict, title: str) -> str:
    lines = [f"# {title}", "", f"Questions: {report['questions']}", ""]
    for section in ("retrieval", "answer", "abstention", "latency_ms"):
        lines.append(f"## {section}")
        lines.append("| metric | value |")
        lines.append("|---|---|")
        for k, v in report[section].items():
            lines.append(f"| {k} | {_fmt(v)} |")
        lines.append("")
    lines += ["## Where answers are lost", "| stage | share of answerable questions |", "|---|---|"]
    for stage, share in diagnose(report["rows"]).items():
        lines.append(f"| {stage} | {_fmt(share)} |")
    lines.append("")
    lines += ["## By question type", "| type | n | f1 | sentence_contains | hit@1 |", "|---|---|---|---|---|"]
    for t, m in by_type(report["rows"]).items():
        lines.append(f"| {t} | {m['n']} | {_fmt(m['f1'])} | {_fmt(m['sentence_contains'])} | {_fmt(m['hit@1'])} |")
    lines.append("")
    worst = sorted(
        (r for r in report["rows"] if "f1" in r),
        key=lambda r: (r["sentence_contains"], r["f1"], -(r["gold_rank"] or 99)),
    )[:15]
    lines += ["## Worst answered questions", ""]
    for r in worst:
        lines.append(f"- **{r['id']}** {r['question'].strip()}")
        lines.append(f"  - gold: {' | '.join(r['gold_answers'][:2])} (source rank {r['gold_rank']})")
        lines.append(f"  - answer: {'(abstained)' if r['abstained'] else r['answer']}")
        lines.append(f"  - quoted: {r['quote'][:200]}")
    wrong_refusals = [r for r in report["rows"] if not r["answerable"] and not r["abstained"]][:10]
    if wrong_refusals:
        lines += ["", "## Unanswerable questions that were answered anyway", ""]
        for r in wrong_refusals:
            lines.append(f"- **{r['id']}** {r['question'].strip()} -> {r['answer'][:120]} (confidence {r['confidence']})")
    return "\n".join(lines) + "\n"


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    types = by_type(report["rows"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(types)
    x = range(len(names))
    ax1.bar([i - 0.2 for i in x], [types[t]["f1"] or 0 for t in names], width=0.4, label="F1")
    ax1.bar([i + 0.2 for i in x], [types[t]["sentence_contains"] or 0 for t in names], width=0.4, label="sentence contains")
    ax1.set_xticks(list(x), [f"{t}\n(n={types[t]['n']})" for t in names], fontsize=8)
    ax1.set_ylim(0, 1)
    ax1.set_title("answers by question type")
    ax1.legend()
    lat = [r["latency_ms"] for r in report["rows"]]
    ax2.hist(lat, bins=30)
    ax2.set_xlabel("ms per question")
    ax2.set_title(f"latency (p50 {_fmt(report['latency_ms']['p50'])} ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
