"""Question latency when the machine is busy: Sanad and the LangChain baseline side by side.

    python -m bench.contention ../shared/data/arcd/arcd-test.json [--questions 150] [--competitors 0 1 2] [--variants ...]

Each side runs in its own process over the SQuAD file's paragraphs (Sanad: its own index and
answering, `Sanad.ask`; baseline: RecursiveCharacterTextSplitter + HuggingFaceEmbeddings on the
same local model + Chroma similarity_search(k=5)). After ingesting, it asks the same questions
with 0, 1 and 2 competing CPU-bound processes on the machine, Sanad's caches (question vectors,
chunks kept between questions) emptied before each level so every level starts cold: each competitor runs torch matrix
products on torch's default thread count (as an ingesting or training process would), is
started by this script before the questions and stopped right after (and stops by itself after
--competitor-seconds in any case). Then, for Sanad only, a fresh process that only answers
(no ingestion) over the same index reports its peak RSS and whether it loaded torch, with the
reader on (onnxruntime, the default, and torch) and off. The default variants put the reader's
two engines side by side (``default`` = onnxruntime; ``SANAD_READER_ENGINE=torch``). Prints p50/p95 ms per side and level, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path



COMPETITOR = (
    "import time, torch\n"
    "a = torch.randn(512, 512)\n"
    "end = time.time() + {seconds}\n"
    "while time.time() < end:\n"
    "    a = torch.tanh(a @ a.T / 512)\n"
)


def percentile(values, q):
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def model_dir(cache: Path) -> str:
    from config import load_settings
    from embeddings import Embedder

    return Embedder(load_settings(home=cache, cache_dir=str(cache))).model_path()


def competitors(n: int, seconds: float) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", COMPETITOR.format(seconds=seconds)]) for _ in range(n)]
    time.sleep(2.0 if n else 0)  # let them load torch and reach their loop
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def timed(ask, questions, levels, seconds, fresh=None) -> dict:
    """p50/p95 of ``ask`` over ``questions`` at each level of competition; ``fresh`` empties
    the asking side's caches first, so every level asks the same questions cold."""
    out = {}
    for level in levels:
        if fresh:
            fresh()
        procs = competitors(level, seconds)
        try:
            lat = []
            for q in questions:
                t = time.perf_counter()
                ask(q)
                lat.append((time.perf_counter() - t) * 1000)
        finally:
            stop(procs)
        out[str(level)] = {"p50": percentile(lat, 0.5), "p95": percentile(lat, 0.95)}
    return out


def side_sanad(args, cache: Path, home: Path) -> dict:
    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev

    articles, questions = ev.read_squad(args.squad)
    sanad = Sanad(load_settings(home=home, cache_dir=str(cache), corpus=""))
    if sanad.store.count() == 0:
        sanad.ingest_articles(articles)
    qs = [q.question for q in questions[: args.questions]]
    for q in qs[:5]:
        sanad.ask(q)  # warm: reader and query engine loaded

    def fresh():  # question vectors and the chunks kept between questions
        sanad.embedder.forget_questions()
        sanad.store.forget_chunks()

    return timed(sanad.ask, qs, args.competitors, args.competitor_seconds, fresh)


def side_baseline(args, cache: Path, home: Path) -> dict:
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag import evaluation as ev

    articles, questions = ev.read_squad(args.squad)
    embeddings = HuggingFaceEmbeddings(
        model_name=model_dir(cache), model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True}
    )
    docs = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        [Document(page_content=a.text, metadata={"doc_id": a.doc_id}) for a in articles]
    )
    store = Chroma.from_documents(docs, embeddings, collection_name="baseline", persist_directory=str(home),
                                  client_settings=ChromaSettings(anonymized_telemetry=False))
    qs = [q.question for q in questions[: args.questions]]
    for q in qs[:5]:
        store.similarity_search(q, k=5)
    return timed(lambda q: store.similarity_search(q, k=5), qs, args.competitors, args.competitor_seconds)


def peak_rss_mb() -> float:
    """This process's peak RSS since it started (VmHWM; ru_maxrss would carry over what the
    forking parent had)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def answer_only(args, cache: Path, home: Path) -> dict:
    """A process that only answers over an existing index (what `sanad bot` does)."""
    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev

    _, questions = ev.read_squad(args.squad)
    sanad = Sanad(load_settings(home=home, cache_dir=str(cache), corpus=""))
    t = time.perf_counter()
    for q in questions[:20]:
        sanad.ask(q.question)
    return {"peak_rss_mb": peak_rss_mb(),
            "torch_loaded": "torch" in sys.modules, "ms_per_question": (time.perf_counter() - t) * 50}


def run_child(args, role: str, cache: Path, home: Path, env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, str(args.squad), "--role", role, "--cache", str(cache), "--home", str(home),
           "--questions", str(args.questions), "--competitor-seconds", str(args.competitor_seconds),
           "--competitors", *map(str, args.competitors)]
    out = subprocess.run(cmd, capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})})
    if out.returncode:
        sys.exit(f"{role} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("squad", type=Path)
    ap.add_argument("--questions", type=int, default=150)
    ap.add_argument("--competitors", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--competitor-seconds", type=float, default=300, help="a competitor stops by itself after this")
    ap.add_argument("--variants", nargs="+",
                    default=["default", "SANAD_READER_ENGINE=torch",
                             "SANAD_READER_THREADS=1,SANAD_QUERY_THREADS=1",
                             "SANAD_READER_ENGINE=torch,SANAD_READER_THREADS=1,SANAD_QUERY_THREADS=1",
                             "SANAD_READER_THREADS=2,SANAD_QUERY_THREADS=2",
                             "SANAD_READER_ENGINE=torch,SANAD_READER_THREADS=2,SANAD_QUERY_THREADS=2"],
                    help="Sanad runs, each with these environment settings (comma-separated KEY=VALUE; "
                         "'default' = none: config/defaults.toml)")
    ap.add_argument("--role", choices=["sanad", "baseline", "answer"], help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        fn = {"sanad": side_sanad, "baseline": side_baseline, "answer": answer_only}[args.role]
        print(json.dumps(fn(args, args.cache, args.home)))
        return
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    model_dir(cache)
    homes = {side: Path(tempfile.mkdtemp(prefix=f"bench-{side}-")) for side in ("baseline", "sanad")}
    res = {"baseline": run_child(args, "baseline", cache, homes["baseline"])}
    for v in args.variants:
        env = {} if v == "default" else dict(kv.split("=", 1) for kv in v.split(","))
        res[v] = run_child(args, "sanad", cache, homes["sanad"], env)
    print(f"question latency, {args.questions} questions, ms (p50 / p95); ratio = p50 / baseline p50")
    print(f"{'competitors':<12}{'baseline':>16}" + "".join(f"{'sanad (' + str(i + 1) + ')':>36}" for i in range(len(args.variants))))
    for level in map(str, args.competitors):
        b = res["baseline"][level]
        cells = "".join(f"{res[v][level]['p50']:>14.1f} / {res[v][level]['p95']:>7.1f} ({res[v][level]['p50'] / b['p50']:.2f}x)"
                        .rjust(36) for v in args.variants)
        print(f"{level:<12}{b['p50']:>8.1f} / {b['p95']:>5.1f}{cells}")
    for i, v in enumerate(args.variants):
        q0 = res[v][str(args.competitors[0])]["p50"]
        rel = ", ".join(f"{lv} competitor(s) {res[v][lv]['p50'] / q0:.2f}x" for lv in map(str, args.competitors[1:]))
        print(f"sanad ({i + 1}) {v}: p50 against quiet: {rel}")
    for env in ({}, {"SANAD_READER_ENGINE": "torch"}):
        a = run_child(args, "answer", cache, homes["sanad"], env)
        label = ",".join(f"{k.removeprefix('SANAD_').lower()}={v}" for k, v in env.items()) or "default"
        print(f"answer-only process, {label}: peak RSS {a['peak_rss_mb']:.0f} MB, torch loaded: "
              f"{a['torch_loaded']}, {a['ms_per_question']:.0f} ms/question incl. loading")


if __name__ == "__main__":
    main()
