"""The `sanad` command, run as a real subprocess."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from config import SEEDS_DIR, load_settings
from rag.loaders import load_corpus
from rag.records import Article

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def env(tmp_path_factory, cache_dir, embedder):
    embedder.model_path()  # the session's model build, reused by the subprocesses
    home = tmp_path_factory.mktemp("cli-home")
    return {**os.environ, "SANAD_HOME": str(home), "SANAD_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1"}


def sanad(env, *args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], env=env, capture_output=True, text=True, timeout=600
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_ask_json_builds_the_index_on_first_use(env):
    out = sanad(env, "ask", "--json", "من هو وزير الداخلية الروسي؟")
    data = json.loads(out.stdout)
    assert set(data) == {"question", "answer", "abstained", "band", "confidence", "citations", "related"}
    assert data["abstained"] is False and "كولوكولتسيف" in data["answer"]
    assert load_settings().answer_threshold <= data["confidence"] <= 1.0 and data["band"] == "answer"
    assert data["citations"] and data["related"]
    assert all("كولوكولتسيف" in c["quote"] for c in data["citations"])  # sources state the answer
    texts = {a.doc_id: a.text for a in load_corpus(SEEDS_DIR, 10**7) if isinstance(a, Article)}
    for c in data["citations"] + data["related"]:
        assert set(c) == {"doc_id", "title", "chunk_id", "quote", "start", "end", "score", "date", "url", "also_in"}
        assert texts[c["doc_id"]][c["start"] : c["end"]] == c["quote"]


def test_ask_text_output_and_abstention_exit_zero(env):
    out = sanad(env, "ask", "من وقع اتفاقية التعاون بين شرطة البلدين؟")
    assert "المصادر:" in out.stdout and "[1]" in out.stdout and "رئيسي جهازي الشرطة" in out.stdout
    assert "[2]" not in out.stdout and "مقاطع ذات صلة لا تذكر الجواب:" in out.stdout  # one source, the rest related
    refused = sanad(env, "ask", "--json", "من فاز بكأس العالم لكرة القدم؟")
    refusal = json.loads(refused.stdout)
    assert refusal["abstained"] is True and 0.0 <= refusal["confidence"] < load_settings().answer_threshold
    assert refusal["band"] in ("refused", "closest")
    assert "(الثقة " in out.stdout  # the judge's probability, in plain output too


def test_errors_are_one_line_on_stderr_with_nonzero_exit(env):
    empty = sanad(env, "ask", "  ", check=False)
    assert empty.returncode == 2 and empty.stderr.strip().count("\n") == 0 and "empty" in empty.stderr
    missing = sanad(env, "ingest", "/no/such/folder", check=False)
    assert missing.returncode == 1 and "no such file or folder" in missing.stderr
    bad = sanad({**env, "SANAD_CHROMA_URL": "http://127.0.0.1:9"}, "ask", "سؤال", check=False)
    assert bad.returncode == 1 and "127.0.0.1:9" in bad.stderr and "Traceback" not in bad.stderr


def test_ingest_sources_stats(env, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "new.txt").write_text("خبر جديد عن مهرجان السينما\n\nافتتح مهرجان السينما أمس بحضور النجوم.", encoding="utf-8")
    (extra / "broken.txt").write_bytes(b"\x00\x00")
    demo = json.loads(sanad(env, "sources", "--json").stdout)  # the seeds, indexed on first use
    assert demo and all(d["demo"] for d in demo)
    assert "(bundled demo)" in sanad(env, "sources").stdout
    out = sanad(env, "ingest", str(extra))
    assert "1 added" in out.stdout and "binary" in out.stderr
    # the user's first import replaces the demo, and says so in one line
    assert f"removed the {len(demo)} bundled demo articles" in out.stdout and "--keep-demo" in out.stdout
    listed = json.loads(sanad(env, "sources", "--json").stdout)
    assert [d["doc_id"] for d in listed] == ["new"] and not listed[0]["demo"]
    stats = json.loads(sanad(env, "stats", "--json").stdout)
    assert stats["articles"] == len(listed)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", stats["last_ingest"])
    assert isinstance(stats["last_ingest_epoch"], int) and stats["last_ingest_epoch"] > 1_700_000_000
    assert f"last_ingest: {stats['last_ingest']}" in sanad(env, "stats").stdout
    assert sanad(env, "sources", "--undated").stdout.startswith("new\t")  # no date in its metadata or dateline


def test_keep_demo_keeps_the_bundled_articles(tmp_path, cache_dir, embedder):
    embedder.model_path()
    env = {**os.environ, "SANAD_HOME": str(tmp_path / "home"), "SANAD_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    sanad(env, "ingest")  # the seeds, as on first use
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "new.txt").write_text("خبر جديد\n\nافتتح مهرجان السينما أمس.", encoding="utf-8")
    out = sanad(env, "ingest", "--keep-demo", str(extra))
    assert "bundled demo" not in out.stdout
    listed = json.loads(sanad(env, "sources", "--json").stdout)
    assert sum(d["demo"] for d in listed) == 6 and len(listed) == 7


def test_an_import_into_a_pipe_prints_progress_lines(tmp_path, cache_dir, embedder):
    from tests.test_robustness import synthetic_corpus

    embedder.model_path()
    corpus = synthetic_corpus(tmp_path / "corpus", 40, seed=21)
    env = {**os.environ, "SANAD_HOME": str(tmp_path / "home"), "SANAD_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1",
           "SANAD_PROGRESS_EVERY": "0.3", "SANAD_EMBED_CACHE": "false", "SANAD_EMBED_BATCH_SIZE": "2"}
    out = sanad(env, "ingest", str(corpus))  # stderr is a pipe here, not a terminal
    lines = [line for line in out.stderr.splitlines() if line.startswith("ingesting: ")]
    assert len(lines) >= 2, out.stderr
    done = [int(re.match(r"ingesting: (\d+) of 40 articles", line).group(1)) for line in lines]
    assert done == sorted(done) and done[-1] > done[0]
    assert all("articles/s" in line and "left" in line and "0 errors" in line for line in lines)


def test_eval_over_the_seeds_writes_the_report(env, tmp_path):
    out = sanad(env, "eval", str(DATA / "seeds_questions.jsonl"), "--corpus", str(SEEDS_DIR), "--out", str(tmp_path))
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report) == ["questions", "retrieval", "answer", "abstention", "citations", "confidence", "latency_ms",
                            "rows"]
    assert report["citations"]["precision"] >= 0.8 and 1.0 <= report["citations"]["sources_per_answer"] <= 3
    assert report["questions"] == 8
    assert report["retrieval"]["hit@1"] == 1.0
    assert report["abstention"]["recall"] == 1.0 and report["abstention"]["false_abstain_rate"] == 0.0
    rows = {r["id"]: r for r in report["rows"]}
    # every answer right; all but one word for word («شركة «المسار»» for «المسار» counts F1 0.67)
    assert min(rows[q]["f1"] for q in ("s1", "s2", "s3", "s4", "s7", "s8")) >= 0.65
    assert sum(rows[q]["exact_match"] for q in ("s1", "s2", "s3", "s4", "s7", "s8")) >= 5
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# ")
    assert "| type | n | f1 | sentence_contains | hit@1 |" in md and "span F1 >= 0.5" in md
    assert "## confidence" in md and report["confidence"]["confident_answers"] >= 1
    assert {r["band"] for r in report["rows"]} <= {"answer", "closest", "refused"}
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads(out.stdout)["questions"] == 8


def test_a_command_that_did_nothing_says_so_and_fails(env, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = sanad(env, "ingest", str(empty), check=False)
    assert nothing.returncode == 1 and "nothing ingested: no article files" in nothing.stderr
    (empty / "bad.txt").write_bytes(b"\x00\x01binary")
    refused = sanad(env, "ingest", str(empty), check=False)
    assert refused.returncode == 1 and "were refused" in refused.stderr and "bad.txt" in refused.stderr
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "1", "question": "من وقع؟", "answers": ["س"]}\n', encoding="utf-8")
    (empty / "bad.txt").unlink()
    no_index = sanad(env, "eval", str(questions), "--corpus", str(empty), check=False)
    assert no_index.returncode == 1 and "the index is empty" in no_index.stderr
