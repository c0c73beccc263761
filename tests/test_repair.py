"""Nothing lost when the index breaks (docs/reliability.md): the article store is the truth,
``sanad check`` finds what is off, ``sanad repair`` rebuilds the index from the articles;
every write takes the writer lock; a question never waits for an import; nothing is
written outside SANAD_HOME and the cache dir; an unreachable Bot API is one line."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import StoreError
from rag.check import check
from rag.feeds import Follower
from rag.repair import repair
from tests.test_robustness import cli_env, kill_after_added, synthetic_corpus

QUESTIONS = ["من هو وزير الداخلية الروسي؟", "من وقع اتفاقية التعاون بين شرطة البلدين؟", "من فاز بكأس العالم لكرة القدم؟"]
FEED = "http://127.0.0.1:9/feed.xml"


def answers(sanad) -> list:
    return [(a.answer, a.band, round(a.confidence, 4), [(c.chunk_id, c.quote) for c in a.citations])
            for a in map(sanad.ask, QUESTIONS)]


def chunks(sanad) -> dict:
    return {cid: text for cid, text, _ in sanad.store.iter_all()}


def cli(home: Path, cache_dir: Path, *args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], env=cli_env(home, cache_dir, **env),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture()
def archive(make_sanad, corpus, tmp_path):
    """The seeds plus a syndicated copy of one of them, a followed feed, the keyword index
    built: the engine, its home and what it answers."""
    seed = sorted(corpus.glob("*.txt"))[1]
    text = seed.read_text(encoding="utf-8")
    original = text.split("id: ", 1)[1].split("\n", 1)[0]
    (corpus / "zz-copy.txt").write_text(text.replace(f"id: {original}", "id: zz-copy"), encoding="utf-8")
    sanad = make_sanad(home=tmp_path / "home")
    report = sanad.ingest(corpus)
    assert report.copies == ["zz-copy"]
    Follower(sanad).follow(FEED)
    before = {"answers": answers(sanad), "sources": sanad.sources(), "chunks": chunks(sanad),
              "copy_of": sanad.originals(["zz-copy"])}
    assert before["copy_of"] == {"zz-copy": original}
    sanad.store.close()
    sanad.articles.close()  # its last connection: the WAL is written back into the file
    return sanad.settings.home, before


def damage(path: Path, how: str) -> None:
    size = path.stat().st_size
    if how == "truncate":
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    else:  # a few garbled pages in the middle of the file
        rng = random.Random(3)
        with open(path, "r+b") as f:
            for offset in (size // 4, size // 2, 3 * size // 4):
                f.seek(offset - offset % 4096)
                f.write(bytes(rng.randrange(256) for _ in range(4096)))


def assert_restored(sanad, before) -> None:
    assert sanad.sources() == before["sources"]  # every article, with its date and ingestion time
    assert chunks(sanad) == before["chunks"]  # every chunk exactly once, with the same text
    assert answers(sanad) == before["answers"]
    assert sanad.originals(["zz-copy"]) == before["copy_of"]  # the copy is still a copy of its original
    assert FEED in Follower(sanad).followed()


@pytest.mark.parametrize("how", ["truncate", "garble"])
def test_a_damaged_chroma_database_is_rebuilt_from_the_article_store(archive, make_sanad, how):
    home, before = archive
    damage(home / "chroma" / "chroma.sqlite3", how)
    if how == "truncate":  # garbled pages may lie off a question's path: check finds them all the same
        with pytest.raises(StoreError, match="sanad repair"):
            make_sanad(home=home).ask(QUESTIONS[0])
    sanad = make_sanad(home=home)
    health = check(sanad)
    assert not health.ok and "index" in health.parts()
    assert all("sanad repair" in p.line() for p in health.problems)
    report = repair(sanad)
    assert report.after.ok, report.after.problems
    assert len(report.moved_aside) == 1 and Path(report.moved_aside[0]).is_dir()  # moved aside, not deleted
    assert report.reindexed == len(before["sources"])
    assert_restored(make_sanad(home=home), before)


def test_a_damaged_article_store_is_refilled_from_the_index(archive, make_sanad):
    home, before = archive
    damage(home / "articles.sqlite3", "garble")
    sanad = make_sanad(home=home)
    health = check(sanad)
    assert "articles" in health.parts() and "damaged" in health.problems[0].what
    assert "\n" not in health.problems[0].line()
    report = repair(sanad)
    assert report.after.ok and report.articles_recovered >= len(before["sources"]) and report.reindexed == 0
    assert any("articles.damaged-" in p for p in report.moved_aside)
    got = make_sanad(home=home)
    assert got.articles.totals()["articles"] == len(before["sources"])
    assert chunks(got) == before["chunks"] and answers(got) == before["answers"]


def test_chunks_of_an_article_the_store_no_longer_holds_are_removed(archive, make_sanad):
    home, before = archive
    sanad = make_sanad(home=home)
    gone = before["sources"][-1]["doc_id"]
    sanad.articles.remove([gone])  # a removal cut short after the store's row, before the chunks
    health = check(sanad, full=True)
    assert any("in the index but not in the article store" in p.what for p in health.problems)
    report = repair(make_sanad(home=home))
    assert report.after.ok and report.removed == 1 and report.reindexed == 0
    assert gone not in {d["doc_id"] for d in make_sanad(home=home).sources()}


def test_deleted_keyword_files_are_found_and_rebuilt(archive, make_sanad):
    home, before = archive
    for f in (home / "keyword").rglob("*"):
        if f.is_file():
            f.unlink()
    sanad = make_sanad(home=home)
    health = check(sanad)
    assert health.parts() == {"keyword"}
    report = repair(sanad)
    assert report.keyword_rebuilt and report.after.ok and report.reindexed == 0
    assert_restored(make_sanad(home=home), before)


def test_an_index_made_before_the_article_store_is_copied_into_it(archive, make_sanad):
    home, before = archive
    (home / "articles.sqlite3").unlink()
    for extra in home.glob("articles.sqlite3-*"):
        extra.unlink()
    sanad = make_sanad(home=home)
    health = check(sanad)
    assert "articles" in health.parts() and "no article store" in health.problems[0].what
    report = repair(sanad)
    assert report.after.ok and report.reindexed == 0
    assert report.articles_recovered == len(before["sources"]) + 1  # and the copy, from its record
    # the articles now come back from the store alone: offsets and quotes hold
    shutil.rmtree(home / "chroma")
    sanad = make_sanad(home=home)
    assert repair(sanad).after.ok
    got = make_sanad(home=home)
    assert [(s["doc_id"], s["chunks"]) for s in got.sources()] == [(s["doc_id"], s["chunks"]) for s in before["sources"]]
    assert [a[0] for a in answers(got)] == [a[0] for a in before["answers"]]


def test_check_and_repair_on_a_sound_archive_say_so(archive, make_sanad, cache_dir):
    home, _ = archive
    ok = cli(home, cache_dir, "check", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    full = cli(home, cache_dir, "check", "--full")
    assert full.returncode == 0 and full.stdout.startswith("ok:")
    nothing = cli(home, cache_dir, "repair")
    assert nothing.returncode == 0 and "nothing to repair" in nothing.stdout


def test_export_then_import_gives_the_same_archive(archive, make_sanad, cache_dir, tmp_path):
    home, before = archive
    out = tmp_path / "backup.jsonl.gz"
    exported = cli(home, cache_dir, "export", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "6 articles, 1 copies and 1 followed feeds" in exported.stdout
    header = json.loads(gzip.open(out, "rt", encoding="utf-8").readline())
    assert header["sanad_export"] == 1 and header["copies"] == 1
    other = tmp_path / "other"
    imported = cli(other, cache_dir, "import", str(out))
    assert imported.returncode == 0, imported.stderr
    moved = make_sanad(home=other)
    assert moved.sources() == before["sources"]
    assert moved.originals(["zz-copy"]) == before["copy_of"]
    assert Follower(moved).followed() == [FEED]
    bad = cli(other, cache_dir, "import", str(sorted((home.parent / "corpus").glob("*.txt"))[0]))
    assert bad.returncode == 1 and "not a file written by sanad export" in bad.stderr


def tiny_articles(path: Path, n: int, start: int = 0) -> Path:
    """``n`` one-line articles: enough chunks for Chroma to write its vector segment to disk."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"id": f"t{i}", "title": f"نبأ {i}", "text": f"افتتحت البلدية الحديقة رقم {i} صباح اليوم."},
                               ensure_ascii=False) + "\n")
    return path


def test_a_truncated_vector_segment_is_found_and_repaired(make_sanad, tmp_path, cache_dir):
    home = tmp_path / "home"
    sanad = make_sanad(home=home)
    sanad.ingest(tiny_articles(tmp_path / "tiny.jsonl", 1100))
    expected = chunks(sanad)
    sanad.store.close()
    segment = max((home / "chroma").glob("*/data_level0.bin"), key=lambda p: p.stat().st_size)
    with open(segment, "r+b") as f:
        f.truncate(segment.stat().st_size // 4)
    found = cli(home, cache_dir, "check")
    assert found.returncode == 1 and "index:" in found.stdout and "sanad repair" in found.stdout, found.stdout
    more = cli(home, cache_dir, "ingest", str(tiny_articles(tmp_path / "more.jsonl", 4, start=5000)))
    assert more.returncode == 1 and "sanad repair" in more.stderr and "added" not in more.stdout  # no silent "4 added"
    fixed = cli(home, cache_dir, "repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "1100 re-indexed" in fixed.stdout
    sanad = make_sanad(home=home)
    assert check(sanad, full=True).ok and chunks(sanad) == expected
    assert sanad.search("الحديقة رقم 517", 1)[0].chunk.doc_id == "t517"


def test_repair_killed_half_way_carries_on(make_sanad, tmp_path, cache_dir, embedder):
    embedder.model_path()
    home = tmp_path / "home"
    sanad = make_sanad(home=home)
    sanad.ingest(synthetic_corpus(tmp_path / "corpus", 40, seed=11))
    expected, sources = chunks(sanad), sanad.sources()
    sanad.store.close()
    damage(home / "chroma" / "chroma.sqlite3", "truncate")
    kill_after_added(home, cache_dir, "repair")
    sanad = make_sanad(home=home)
    assert not check(sanad).ok  # half an index: check says so
    report = repair(sanad)
    assert report.after.ok and 0 < report.reindexed <= 30  # what was written before the kill is kept
    sanad = make_sanad(home=home)
    assert chunks(sanad) == expected and sanad.sources() == sources  # every chunk once, nothing lost


def wait_for_lock(home: Path, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the import ended before the test could use it"
        try:
            holder = json.loads((home / "ingest.lock").read_text() or "{}")
        except (OSError, ValueError):
            holder = {}
        if holder.get("pid") == proc.pid:
            return holder
        time.sleep(0.05)
    raise AssertionError("the import never took the writer lock")


def start_import(home: Path, cache_dir: Path, folder: Path, batch: int) -> subprocess.Popen:
    """``sanad ingest FOLDER`` in a child process (no embedding cache, ``batch`` passages an
    embedding batch), returned once it holds the writer lock."""
    env = cli_env(home, cache_dir, SANAD_EMBED_BATCH_SIZE=str(batch), SANAD_EMBED_CACHE="false")
    importer = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(folder)], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_lock(home, importer)
    return importer


def test_rebuild_waits_for_a_running_import(make_sanad, tmp_path, cache_dir, corpus, embedder):
    embedder.model_path()
    home = tmp_path / "home"
    more = synthetic_corpus(tmp_path / "more", 30, seed=12)
    importer = start_import(home, cache_dir, more, batch=2)
    rebuild = cli(home, cache_dir, "ingest", "--rebuild", str(corpus))
    out, err = importer.communicate(timeout=600)
    assert importer.returncode == 0, err
    assert out.startswith("30 added")  # the import finished: nothing of it was cut off
    assert rebuild.returncode == 0, rebuild.stderr
    assert f"waiting for pid {importer.pid}" in rebuild.stderr and "ingest" in rebuild.stderr
    sanad = make_sanad(home=home)
    assert len(sanad.sources()) == 6 and not any(s["doc_id"].startswith("gen_") for s in sanad.sources())
    assert check(sanad).ok


def test_a_question_never_waits_for_an_import_into_an_empty_home(tmp_path, cache_dir, embedder):
    embedder.model_path()
    home = tmp_path / "home"
    more = synthetic_corpus(tmp_path / "more", 150, seed=13)
    importer = start_import(home, cache_dir, more, batch=64)
    env = cli_env(home, cache_dir, SANAD_EMBED_CACHE="false")
    try:
        t0 = time.monotonic()
        asked = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "من هو وزير الداخلية الروسي؟"],
                               env={**env, "SANAD_CORPUS": "@seeds"}, capture_output=True, text=True, timeout=300)
        assert asked.returncode == 1, asked.stdout
        assert "the index is being built by pid" in asked.stderr and "ask again" in asked.stderr
        assert time.monotonic() - t0 < 60  # it did not wait for the import
    finally:
        importer.communicate(timeout=600)
    assert importer.returncode == 0


def test_a_question_writes_nothing_outside_sanad_home_and_the_cache(tmp_path, cache_dir, embedder):
    embedder.model_path()
    fake_home = tmp_path / "user-home"
    fake_home.mkdir()
    env = cli_env(tmp_path / "sanad-home", cache_dir, HOME=str(fake_home), SANAD_CORPUS="@seeds")
    env.pop("ORT_DISABLE_TELEMETRY", None)  # Sanad turns onnxruntime's telemetry off by itself
    asked = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "من هو وزير الداخلية الروسي؟"], env=env,
                           capture_output=True, text=True, timeout=600)
    assert asked.returncode == 0, asked.stderr
    assert "كولوكولتسيف" in asked.stdout
    assert sorted(p.relative_to(fake_home).as_posix() for p in fake_home.rglob("*")) == []


def test_an_unreachable_bot_api_is_one_line_and_exit_1(tmp_path, cache_dir, seeded):
    env = cli_env(seeded.settings.home, cache_dir, TELEGRAM_BOT_TOKEN="123:abc",
                  SANAD_TELEGRAM_BASE_URL="http://127.0.0.1:9/bot", SANAD_TELEGRAM_CONNECT_TRIES="2")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "-v", "bot"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr and len(lines) <= 3, proc.stderr
    assert lines[-1].startswith("sanad: error: cannot reach Telegram's Bot API at http://127.0.0.1:9/bot after 2 tries")
    assert "trying again in 1 s" in proc.stderr and time.monotonic() - t0 >= 1
    assert "123:abc" not in proc.stderr
