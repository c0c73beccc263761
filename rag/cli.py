"""The ``sanad`` command: a thin layer over ``rag.Sanad``."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Sanad: answers Arabic questions from news articles, citing the passages it rests on.",
)


def _setup_logging(verbose: bool) -> None:
    from config import load_settings
    from rag.logs import secrets_of, setup_logging

    try:
        settings = load_settings()
    except Exception:  # reported by the command itself
        logging.basicConfig(level=logging.WARNING)
        return
    setup_logging(logging.INFO if verbose else settings.log_level, secrets_of(settings))


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="log what is ingested, skipped, replaced")):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _setup_logging(verbose)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"sanad: error: {message}", err=True)
    raise typer.Exit(code)


def engine(ready: bool = False):
    """The engine; with ``ready``, an empty index is first built from the configured corpus (first use)."""
    from rag import Sanad

    sanad = Sanad()
    if ready:
        sanad.ensure_ready(progress=sys.stderr.isatty())
    return sanad


def guarded(fn):
    """Run a command; known errors become one line on stderr and a non-zero exit code."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from pydantic import ValidationError

        from rag import FetchError, LoadError, QuestionError, StoreError

        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except QuestionError as exc:
            fail(str(exc), 2)
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}")
        except (StoreError, LoadError, FetchError, FileNotFoundError, ValueError) as exc:
            fail(str(exc))
        except RuntimeError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper


@app.command()
@guarded
def ask(
    question: str = typer.Argument(..., help="the question, e.g. «من وقع الاتفاقية؟»"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
):
    """Answer a question with numbered citations (abstains when the sources do not say)."""
    answer = engine(ready=True).ask(question)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        from rag.terminal import format_answer

        typer.echo(format_answer(answer))


@app.command()
@guarded
def chat(turns: int = typer.Option(3, "--turns", min=0, help="earlier turns a follow-up may lean on")):
    """Ask questions one after another in the terminal; a follow-up («ومتى؟», "and who?") is
    answered about the story before it. /reset forgets the conversation; Ctrl-D ends."""
    from rag.terminal import converse

    converse(engine(ready=True), turns, typer.echo)


@app.command()
@guarded
def search(
    question: str,
    k: int = typer.Option(5, "--k", "-k", min=1, help="how many chunks"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Show the chunks hybrid retrieval finds for a question, with their scores."""
    rows = [h.to_dict() for h in engine(ready=True).search(question, k)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for i, r in enumerate(rows, 1):
        typer.echo(f"[{i}] {r['score']:+.3f} (dense {r['dense']}, keyword {r['keyword']}) {r['chunk_id']} — {r['title']}")
        typer.echo(f"    {r['text'][:200]}")


@app.command()
@guarded
def ingest(
    path: Optional[str] = typer.Argument(
        None, help="file, folder or article URL (default: the configured corpus, the seeds)"),
    prune: bool = typer.Option(False, "--prune", help="remove articles no longer present under PATH"),
    rebuild: bool = typer.Option(False, "--rebuild", help="drop the archive first and ingest from scratch"),
    keep_demo: bool = typer.Option(False, "--keep-demo", help="keep the bundled demo articles beside your own"),
):
    """Ingest articles (.txt .md .html .jsonl .json, or an http(s) article page); unchanged ones are not embedded again."""
    sanad = engine()
    with sanad.writing():  # --rebuild and the import that follows, with no other writer between
        _ingest(sanad, path, prune, rebuild, keep_demo)


def _ingest(sanad, path: Optional[str], prune: bool, rebuild: bool, keep_demo: bool) -> None:
    if rebuild:
        sanad.rebuild()
    if path and path.startswith(("http://", "https://")):
        from rag import Follower

        kind, doc_id = Follower(sanad).ingest_url(path)
        typer.echo(f"{kind}: {doc_id}" + (" (the same text is already in the index)" if kind == "copy" else ""))
        return
    target = Path(path) if path else sanad.settings.corpus_path
    report = sanad.ingest(target, prune=prune, progress=True, keep_demo=keep_demo)
    for err in report.errors:
        typer.echo(f"not ingested: {err}", err=True)
    typer.echo(report.summary())
    if report.demo_removed:
        typer.echo(f"removed the {len(report.demo_removed)} bundled demo articles: the index now holds your own "
                   "(sanad ingest --keep-demo keeps them)")
    if not (report.added or report.replaced or report.unchanged or report.copies or report.removed):
        from rag.loaders import SUPPORTED

        fail(f"nothing ingested: all {len(report.errors)} articles or files under {target} were refused (above)"
             if report.errors else
             f"nothing ingested: no article files under {target} (supported: {', '.join(sorted(SUPPORTED))})")


@app.command()
@guarded
def check(
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    full: bool = typer.Option(False, "--full", help="compare every article and read every vector (slower)"),
):
    """Verify the article store, the index and the keyword index against each other; exit 1 on any problem."""
    from rag.check import check as run_check

    health = run_check(engine(), full=full)
    from rag.terminal import health_lines

    typer.echo(json.dumps(health.to_dict(), ensure_ascii=False) if as_json else "\n".join(health_lines(health)))
    if not health.ok:
        raise typer.Exit(1)


@app.command()
@guarded
def repair(as_json: bool = typer.Option(False, "--json", help="print one JSON object")):
    """Rebuild whatever `sanad check` finds broken from the article store (damaged files are moved aside)."""
    from rag.repair import repair as run_repair

    rep = run_repair(engine(), progress=True, say=lambda line: typer.echo(line, err=True))
    from rag.terminal import repair_lines

    if as_json:
        typer.echo(json.dumps(rep.to_dict(), ensure_ascii=False))
    else:
        typer.echo("\n".join(repair_lines(rep)))
        for p in rep.after.problems:
            typer.echo(f"still: {p.line()}", err=True)
    if rep.after and not rep.after.ok:
        raise typer.Exit(1)


@app.command()
@guarded
def export(path: Path = typer.Argument(..., help="the file to write, e.g. archive.jsonl.gz")):
    """Write the whole archive (articles, copies, followed feeds) to one JSONL file (gzip when it ends in .gz)."""
    from rag.transfer import export_archive

    n = export_archive(engine(), path)
    typer.echo(f"exported {n['articles']} articles, {n['copies']} copies and {n['feeds']} followed feeds to {path}")


@app.command("import")
@guarded
def import_(path: Path = typer.Argument(..., help="a file written by sanad export")):
    """Bring in an archive written by `sanad export` (articles keep their ids and dates; copies stay copies)."""
    from rag.transfer import import_archive

    report, n = import_archive(engine(), path, progress=True)
    for err in report.errors:
        typer.echo(f"not imported: {err}", err=True)
    typer.echo(f"{report.summary()}; {n['copies']} copies recorded, {n['feeds']} feeds followed")
    if not (report.added or report.replaced or report.unchanged or n["copies"]):
        fail(f"nothing imported from {path}")


@app.command()
@guarded
def follow(
    feeds: Optional[list[str]] = typer.Argument(None, help="RSS/Atom feed URLs to add to the followed list"),
    every: str = typer.Option("", "--every", help="poll interval, e.g. 15m (default: follow_every)"),
    once: bool = typer.Option(False, "--once", help="poll once and exit (for cron)"),
):
    """Follow news feeds: poll them, fetch new articles and ingest them; one progress line per feed and poll."""
    from rag import Follower, parse_interval

    sanad = engine(ready=True)
    follower = Follower(sanad)
    for url in feeds or []:
        if follower.follow(url):
            typer.echo(f"following {url}")
    if not follower.followed():
        fail("no feeds to follow: name them (sanad follow URL) or set feeds in the config")
    interval = parse_interval(every or sanad.settings.follow_every)
    if once:
        reps = follower.poll_all(lambda line: typer.echo(line))
        if all(r.failed for r in reps):
            raise typer.Exit(1)
        return
    from rag.terminal import until_ctrl_c

    typer.echo(f"polling {len(follower.followed())} feeds every {interval:g} s (Ctrl-C stops)")
    until_ctrl_c(lambda stop: follower.run(interval, stop, lambda line: typer.echo(line)), typer.echo)


@app.command()
@guarded
def unfollow(url: str):
    """Stop following a feed (articles already ingested stay)."""
    from rag import Follower

    if not Follower(engine()).unfollow(url):
        fail(f"not following {url} (feeds from the config file are removed there)")
    typer.echo(f"no longer following {url}")


@app.command()
@guarded
def feeds(as_json: bool = typer.Option(False, "--json")):
    """The followed feeds with their last poll."""
    from rag import Follower

    rows = Follower(engine()).status()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    from rag.terminal import feed_lines

    typer.echo("\n".join(feed_lines(rows)))


@app.command()
@guarded
def remove(doc_id: str):
    """Remove one article from the index (or a recorded syndicated copy from its story)."""
    sanad = engine()
    original = sanad.originals([doc_id]).get(doc_id)
    n = sanad.remove(doc_id)
    if original:
        typer.echo(f"removed {doc_id}: a recorded copy of {original} (no chunks of its own); "
                   f"{original} no longer lists it")
    elif not n:
        fail(f"no article with id {doc_id!r} in the index")
    else:
        typer.echo(f"removed {doc_id} ({n} chunks)")


@app.command()
@guarded
def sources(
    as_json: bool = typer.Option(False, "--json"),
    undated: bool = typer.Option(False, "--undated", help="only the articles with no date (none in their metadata "
                                 "or dateline)"),
):
    """List the articles in the index."""
    sanad = engine(ready=True)
    docs = [d for d in sanad.sources() if not (undated and d["date"])]
    if as_json:
        typer.echo(json.dumps(docs, ensure_ascii=False))
        return
    for d in docs:
        origin = d["url"] or d["source"] or d["path"] or "-"
        typer.echo(f"{d['doc_id']}\t{d['chunks']} chunks\t{d['date'] or '-'}\t{d['title']}\t{origin}"
                   + ("\t(bundled demo)" if d["demo"] else ""))


@app.command()
@guarded
def stats(as_json: bool = typer.Option(False, "--json")):
    """Articles, chunks, model and index age."""
    sanad = engine(ready=True)
    st = sanad.stats()
    if as_json:
        typer.echo(json.dumps(st, ensure_ascii=False))
        return
    for k, v in st.items():
        typer.echo(f"{k}: {v}")


@app.command("eval")
@guarded
def evaluate(
    questions: Optional[Path] = typer.Argument(None, help="question set (.jsonl; a SQuAD .json also works)"),
    squad: Optional[Path] = typer.Option(None, "--squad", help="SQuAD v1.1 file: index its paragraphs, ask its questions"),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="index this folder (in a temporary index) first"),
    unanswerable: Optional[Path] = typer.Option(None, "--unanswerable", help="questions that must be refused"),
    out: Optional[Path] = typer.Option(None, "--out", help="write report.json, report.md, report.png here"),
    limit: int = typer.Option(0, "--limit", min=0, help="ask at most this many questions of each set (0 = all)"),
    index_dir: Optional[Path] = typer.Option(
        None, "--index-dir", help="keep the temporary index here and reuse it on the next run"
    ),
    answerer: Optional[str] = typer.Option(None, "--answerer", help="extractive or llm (default: configured)"),
):
    """Run a question set and report retrieval, answer and abstention metrics."""
    from rag import evaluation as ev
    from rag.evaluation.session import evaluate as run_eval

    if not (questions or squad):
        fail("give a question set (FILE.jsonl) or --squad FILE", 2)
    report = run_eval(questions, squad, corpus, unanswerable, limit, index_dir, answerer, progress=sys.stderr.isatty())
    summary = {k: v for k, v in report.items() if k != "rows"}
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
    if out:
        for p in ev.write_report(report, out):
            typer.echo(f"wrote {p}", err=True)


@app.command()
@guarded
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="address to listen on (default: serve_host, 127.0.0.1)"),
    port: Optional[int] = typer.Option(None, "--port", help="port (default: serve_port, 8080)"),
):
    """Serve the HTTP API (POST /ask, GET /search, /articles, /stats; OpenAPI at /openapi.json)."""
    from config import load_settings
    from serve.app import run

    run(load_settings(), host, port)


@app.command()
@guarded
def mcp():
    """Serve Sanad's tools (ask, search, get_article) to an assistant over stdio (Model Context Protocol)."""
    from config import load_settings
    from serve.tools import run

    run(load_settings())


@app.command()
@guarded
def bot(webhook: bool = typer.Option(False, "--webhook", help="run behind a webhook instead of long polling")):
    """Run the Telegram bot (token from TELEGRAM_BOT_TOKEN)."""
    from telegram.error import InvalidToken

    from bot.app import TokenMissing, Unreachable, run
    from config import load_settings

    try:
        run(load_settings(), webhook=webhook)
    except TokenMissing as exc:
        fail(str(exc), 2)
    except Unreachable as exc:
        fail(str(exc))
    except InvalidToken:
        fail("Telegram rejected the bot token in TELEGRAM_BOT_TOKEN; check it with @BotFather")


if __name__ == "__main__":  # pragma: no cover
    app()
