"""What the command line prints: an answer with its sources in the asker's language, the
conversation loop of ``sanad chat``, and the lines of ``sanad check`` and ``sanad repair``.
Kept apart from rag/cli.py (which parses commands) so that the commands stay thin."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable

from rag.normalize import is_arabic

FRAME = {  # (Arabic, English): the words around an answer, in the asker's language
    "sources": ("المصادر:", "Sources:"),
    "also": ("ورد أيضًا في", "also reported by"),
    "related": ("مقاطع ذات صلة لا تذكر الجواب:", "Related passages (they do not state the answer):"),
    "also_in": ("نُشر أيضًا في:", "Also published in:"),
    "confidence": ("الثقة", "confidence"),
}


def format_answer(answer) -> str:
    lang = 0 if is_arabic(answer.question) else 1
    lines = [answer.answer]
    if answer.band != "refused":
        lines.append(f"({FRAME['confidence'][lang]} {answer.confidence:.2f})")
    if answer.notice:
        lines.append(f"({answer.notice})")
    if answer.citations:
        lines += ["", FRAME["sources"][lang]]
        first = answer.citations[0].doc_id
        for i, c in enumerate(answer.citations, 1):
            also = f"({FRAME['also'][lang]}) " if c.doc_id != first else ""
            lines.append(f"[{i}] {also}{c.title}" + (f" ({c.date})" if c.date else ""))
            lines.append(f"    «{c.quote}»")
            lines.append(f"    {c.doc_id} · {c.chunk_id} · {c.start}-{c.end}" + (f" · {c.url}" if c.url else ""))
            if c.also_in:
                lines.append(f"    {FRAME['also_in'][lang]} " + "; ".join(
                    " ".join(x for x in (o.get("source") or o["doc_id"], o.get("date", ""), o.get("url", "")) if x)
                    for o in c.also_in))
    if answer.related:
        if answer.band != "closest":  # the closest band's answer text already says what follows
            lines += ["", FRAME["related"][lang]]
        for c in answer.related:
            lines.append(f"- {c.title}: «{c.quote}»")
            lines.append(f"    {c.doc_id} · {c.chunk_id} · {c.start}-{c.end}" + (f" · {c.url}" if c.url else ""))
    return "\n".join(lines)




def converse(sanad, turns: int, echo: Callable[..., None], read: Callable[[str], str] = input) -> None:
    """``sanad chat``: questions one after another until end of input; a follow-up leans on the
    last ``turns`` answers; /reset (or /new) starts afresh, /quit ends."""
    from rag.answer.question import QuestionError

    history: list = []
    prompt = "؟ " if sys.stdin.isatty() else ""
    while True:
        try:
            line = read(prompt).strip()
        except EOFError:
            return
        if not line:
            continue
        if line in ("/reset", "/new"):
            history = []
            echo("(new conversation)")
            continue
        if line in ("/quit", "/exit"):
            return
        try:
            answer = sanad.ask(line, history=history[-turns:] if turns else [])
        except QuestionError as exc:
            echo(f"sanad: {exc}", err=True)
            continue
        echo(format_answer(answer) + "\n")
        history.append(answer.turn)


def health_lines(health) -> list[str]:
    """``sanad check``: one line per problem (what to run), the notes, then the summary."""
    counts = ", ".join(f"{k} {v}" for k, v in health.counts.items())
    return ([p.line() for p in health.problems] + [f"note: {note}" for note in health.notes]
            + [("ok: " if health.ok else f"{len(health.problems)} problems; ") + f"{counts} ({health.seconds:.1f}s)"])


def repair_lines(rep) -> list[str]:
    """``sanad repair``: what was found and what was done."""
    if not rep.found:
        return ["nothing to repair: the article store, the index and the keyword index agree"]
    return [f"found: {line}" for line in rep.found] + [
        f"repaired in {rep.seconds:.1f}s: {rep.articles_recovered} articles recovered into the store, "
        f"{rep.reindexed} re-indexed, {rep.removed} removed from the index, {rep.copies_restored} copies "
        f"and {rep.state_carried} state records restored" + (", keyword index rebuilt" if rep.keyword_rebuilt else "")]


def feed_lines(rows: list[dict]) -> list[str]:
    """``sanad feeds``: each followed feed with its last poll."""
    out = []
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["last_poll"])) if r["last_poll"] else "never"
        out.append(f"{r['url']}\tlast poll {when}\t{r['articles']} articles" + (" (config)" if r["configured"] else "")
                   + (f"\tlast error: {r['last_error']}" if r["last_error"] else ""))
    return out


def until_ctrl_c(work: Callable[[threading.Event], None], echo: Callable[..., None]) -> None:
    """Run ``work(stop)``; the first Ctrl-C sets ``stop`` (the poll in progress finishes: no
    article half written), a second one stops at once."""
    stop = threading.Event()

    def on_ctrl_c(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        echo("stopping after the poll in progress (Ctrl-C again stops at once)", err=True)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        work(stop)
    finally:
        signal.signal(signal.SIGINT, previous)
