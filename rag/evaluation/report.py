"""Evaluation reports: report.json, report.md (tables by stage and question type, the worst
answers) and report.png."""

from __future__ import annotations

import json
from pathlib import Path

from rag.evaluation import metrics


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
    """Per question type: the answer's F1, sentence_contains and hit@1."""
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
    good = [r for r in rest if r["f1"] >= 0.5]

    return {
        "refused although answerable": len(refused) / n,
        "gold source not ranked first": len(not_first) / n,
        "quoted sentence lacks the answer": len(wrong_sentence) / n,
        "sentence right, span F1 < 0.5": len(weak_span) / n,
        "span F1 >= 0.5": len(good) / n,
    }


def markdown(report: dict, title: str) -> str:
    lines = [f"# {title}", "", f"Questions: {report['questions']}", ""]
    for section in ("retrieval", "answer", "abstention", "confidence", "citations", "latency_ms"):
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
    lines += ["## By question type", "",
              "| type | n | f1 | sentence_contains | hit@1 |",
              "|---|---|---|---|---|"]
    for t, m in by_type(report["rows"]).items():
        lines.append(f"| {t} | {m['n']} | {_fmt(m['f1'])} | {_fmt(m['sentence_contains'])} | {_fmt(m['hit@1'])} |")
    lines.append("")
    if report.get("by_variety"):
        lines += ["## By variety of the question",
                  "false refusals: the share of answerable questions refused.", "",
                  "| variety | n | F1 | EM | sentence_contains | false refusals | hit@1 |",
                  "|---|---|---|---|---|---|---|"]
        for v, m in report["by_variety"].items():
            lines.append(f"| {v} | {m['n']} | {_fmt(m['f1'])} | {_fmt(m['exact_match'])} | "
                         f"{_fmt(m['sentence_contains'])} | {_fmt(m['false_abstain_rate'])} | {_fmt(m['hit@1'])} |")
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
