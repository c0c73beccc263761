"""Bulk import of a news archive: JSONL (plain and gzipped) streamed record by record, the size
cap per record, bad lines named, syndicated copies kept once, and an import killed with
SIGKILL that carries on when run again. A small generated archive, the real model, a real
(embedded) Chroma."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import SEEDS_DIR, load_settings
from rag.loaders import load_corpus, stream_records
from rag.records import Article

WORDS = (
    "أعلنت وزارة الصحة اليوم عن خطة جديدة لتطوير المستشفيات في المناطق الشمالية وقال المتحدث إن المشروع "
    "يشمل بناء مراكز طبية وتدريب الكوادر الوطنية خلال العامين المقبلين بتكلفة تبلغ مليار ريال وأضاف أن "
    "الوزارة تعمل مع الجامعات والقطاع الخاص لرفع جودة الخدمات الصحية المقدمة للمواطنين والمقيمين في المدن "
    "والقرى كما افتتح أمير المنطقة معرضا للكتاب بمشاركة دور نشر عربية وأجنبية وشهد الحفل حضور عدد من "
    "المسؤولين والمثقفين وارتفعت أسعار النفط في الأسواق العالمية بعد قرار المنظمة خفض الإنتاج وتراجعت "
    "الأسهم في البورصة مع نهاية الأسبوع وفاز الفريق الأول بالمباراة النهائية للبطولة أمام منافسه بهدفين"
).split()


def story(rng: random.Random, n: int) -> str:
    """An article of ``n`` words drawn at random: any two share almost no 5-word shingle."""
    sentences, words = [], [rng.choice(WORDS) for _ in range(n)]
    for i in range(0, n, 15):
        sentences.append(" ".join(words[i : i + 15]) + ".")
    return " ".join(sentences)


def edited(text: str, rng: random.Random) -> str:
    """A lightly edited wire copy: a byline, two words changed."""
    words = text.split()
    for i in rng.sample(range(len(words)), 2):
        words[i] = "الرسمية"
    return "(واس) - " + " ".join(words)


def make_archive(path: Path, n: int = 120, copies: int = 8, seed: int = 7) -> dict:
    """``n`` distinct articles, ``copies`` planted near-copies of some of them (another paper,
    another id), and bad lines: invalid JSON, a record without text, one over 20,000 bytes."""
    rng = random.Random(seed)
    originals = [{"id": f"a{i:04d}", "title": f"خبر رقم {i}", "text": story(rng, rng.randint(60, 140)),
                  "source": "paper-a", "date": "2015-08-01"} for i in range(n)]
    planted = {}
    lines = [json.dumps(r, ensure_ascii=False) for r in originals]
    for k, src in enumerate(rng.sample(originals, copies)):
        cid = f"copy{k}"
        planted[cid] = src["id"]
        after = lines.index(json.dumps(src, ensure_ascii=False)) + 1  # a copy comes after its original
        lines.insert(rng.randint(after, len(lines)), json.dumps(
            {"id": cid, "title": src["title"], "text": edited(src["text"], rng), "source": "paper-b",
             "url": f"https://b.example/{cid}"}, ensure_ascii=False))
    bad = {"not json at all": "invalid JSON", json.dumps({"id": "no-text"}): "no 'text'",
           json.dumps({"id": "huge", "text": "كلمة " * 5000}): "over the limit"}
    for line in bad:
        lines.insert(rng.randint(0, len(lines)), line)
    lines.insert(5, "")  # blank lines are skipped
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    numbered = {line: i for i, line in enumerate(lines, 1)}
    return {"originals": [r["id"] for r in originals], "copies": planted,
            "bad": {numbered[line]: why for line, why in bad.items()}}


def test_stream_names_each_bad_line_and_caps_records_not_files(tmp_path):
    path = tmp_path / "archive.jsonl.gz"
    made = make_archive(path)
    items = list(stream_records(path, 20_000))
    good = [i for i in items if isinstance(i, Article)]
    problems = [str(i) for i in items if not isinstance(i, Article)]
    assert len(good) == len(made["originals"]) + len(made["copies"])
    assert len(problems) == 3
    for line, why in made["bad"].items():
        assert any(f"line {line}:" in p and why in p for p in problems), (line, why, problems)
    assert path.stat().st_size > 20_000  # the cap is per record: the file itself may be larger


def test_a_file_that_is_not_jsonl_stops_with_one_reason(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(f"plain line {i}" for i in range(200)), encoding="utf-8")
    items = [str(i) for i in stream_records(path, 10**6)]
    assert len(items) == 51 and "50 unreadable lines in a row" in items[-1]
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    (only,) = [str(i) for i in stream_records(broken, 10**6)]
    assert "not a readable gzip file" in only


def test_import_keeps_one_copy_of_each_story_with_its_other_papers(make_sanad, tmp_path):
    path = tmp_path / "archive.jsonl.gz"
    made = make_archive(path)
    asharq = next(a for a in load_corpus(SEEDS_DIR, 10**7) if getattr(a, "doc_id", "") == "asharq-russia-iran-security")
    with gzip.open(path, "at", encoding="utf-8") as fh:  # a real story and a wire copy of it
        fh.write(json.dumps({"id": "asharq", "title": asharq.title, "text": asharq.text, "source": "aawsat"},
                            ensure_ascii=False) + "\n")
        fh.write(json.dumps({"id": "asharq-wire", "title": asharq.title, "text": "(واس) " + asharq.text,
                             "source": "okaz", "url": "https://okaz.example/1"}, ensure_ascii=False) + "\n")
    sanad = make_sanad(corpus="", max_file_bytes=20_000)
    report = sanad.ingest(path)
    assert sorted(report.added) == sorted(made["originals"] + ["asharq"])
    assert sorted(report.copies) == sorted([*made["copies"], "asharq-wire"])
    assert len(report.errors) == 3
    assert set(sanad.doc_ids()) == set(made["originals"] + ["asharq"])  # copies are not indexed
    for cid, of in made["copies"].items():
        assert sanad.state.get([f"copy:{cid}"])[f"copy:{cid}"]["of"] == of
    answer = sanad.ask("من هو وزير الداخلية الروسي؟")
    assert not answer.abstained and answer.citations[0].doc_id == "asharq"
    assert [c["doc_id"] for c in answer.citations[0].also_in] == ["asharq-wire"]
    assert answer.citations[0].also_in[0]["source"] == "okaz"
    assert all(c.doc_id != "asharq-wire" for c in answer.citations + answer.related)
    from bot.format import format_answer
    from rag.terminal import format_answer as cli_answer

    (reply,) = format_answer(answer, "ar")
    assert "نُشر أيضًا في:" in reply and 'href="https://okaz.example/1"' in reply and ">okaz</a>" in reply
    assert "نُشر أيضًا في: okaz https://okaz.example/1" in cli_answer(answer)
    again = sanad.ingest(path)  # nothing twice
    assert not again.added and len(again.unchanged) == len(made["originals"]) + 1
    assert sorted(again.copies) == sorted(report.copies)
    story = sanad.state.get(["story:asharq"])["story:asharq"]
    assert [c["doc_id"] for c in story["copies"]] == ["asharq-wire"]


def test_an_id_twice_in_one_import_is_named_and_the_first_kept(make_sanad, tmp_path):
    """In a file the loader names a repeated id; articles handed to the API straight (as
    ``sanad eval --squad`` does) are checked the same way, not left to fail in Chroma."""
    rng = random.Random(3)
    first, second, other = story(rng, 80), story(rng, 80), story(rng, 80)
    records = [{"id": "x1", "title": "خبر", "text": first}, {"id": "x2", "title": "آخر", "text": other},
               {"id": "x1", "title": "خبر", "text": second}]
    path = tmp_path / "twice.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    from_file = make_sanad(home=tmp_path / "a", corpus="").ingest(path)
    assert sorted(from_file.added) == ["x1", "x2"] and len(from_file.errors) == 1 and "'x1'" in from_file.errors[0]
    sanad = make_sanad(home=tmp_path / "b", corpus="")
    report = sanad.ingest_articles([Article(doc_id=r["id"], title=r["title"], text=r["text"]) for r in records])
    assert sorted(report.added) == ["x1", "x2"]
    assert len(report.errors) == 1 and "x1" in report.errors[0] and "second time" in report.errors[0]
    assert sanad.passage("x1:0").text.startswith(first[:40])


def test_removing_an_original_lets_its_copy_be_indexed(make_sanad, tmp_path):
    rng = random.Random(3)
    text = story(rng, 120)
    first = Article("first", "خبر", text, source="a")
    second = Article("second", "خبر", edited(text, rng), source="b")
    sanad = make_sanad(corpus="")
    assert sanad.ingest_articles([first, second]).copies == ["second"]
    sanad.remove("first")
    assert sanad.ingest_articles([second]).added == ["second"]
    assert sanad.doc_ids() == ["second"]
    fuller = Article("fuller", "خبر", text + " " + story(rng, 60), source="c")  # the story with more to it
    assert sanad.ingest_articles([fuller]).added == ["fuller"]  # not a copy: it holds what the other lacks
    off = make_sanad(home=tmp_path / "off", corpus="", dedupe=False)
    assert sorted(off.ingest_articles([first, second]).added) == ["first", "second"]


def sanad_cli(env, *args, **kw):
    return subprocess.Popen([sys.executable, "-m", "rag.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_an_import_killed_mid_way_carries_on_with_nothing_lost_or_twice(tmp_path, cache_dir, embedder):
    embedder.model_path()  # the session's model build, reused by the subprocesses
    path = tmp_path / "archive.jsonl.gz"
    made = make_archive(path, n=240, copies=10)
    env = {**os.environ, "SANAD_HOME": str(tmp_path / "home"), "SANAD_CACHE_DIR": str(cache_dir),
           "HF_HUB_OFFLINE": "1", "SANAD_CORPUS": "", "SANAD_MAX_FILE_BYTES": "20000",
           "SANAD_EMBED_BATCH_SIZE": "4", "SANAD_EMBED_CACHE": "false"}  # small writes: a kill lands between them
    proc = sanad_cli(env, "-v", "ingest", str(path))
    written, deadline = 0, time.monotonic() + 300
    for line in proc.stderr:  # the log names each article as its batch is written
        written += " added: " in line
        if written >= 40 or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and written >= 40
    rerun = sanad_cli(env, "ingest", str(path))
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    # "N added, 0 replaced, M unchanged, ...": the rerun adds what the kill left, skips what was written
    added, unchanged = (int(out.split(f" {word}")[0].split()[-1]) for word in ("added,", "unchanged,"))
    assert unchanged >= 40 and added + unchanged == len(made["originals"])
    from rag import Sanad

    sanad = Sanad(load_settings(home=tmp_path / "home", cache_dir=str(cache_dir), corpus=""), embedder=embedder)
    docs = sanad.sources()
    assert sorted(d["doc_id"] for d in docs) == sorted(made["originals"])  # nothing lost, no copy indexed
    ids = [cid for cid, _, _ in sanad.store.iter_all()]
    assert len(ids) == len(set(ids)) == sum(d["chunks"] for d in docs)
    meta = {m["doc_id"]: m["n_chunks"] for _, _, m in sanad.store.iter_all()}
    assert all(d["chunks"] == meta[d["doc_id"]] for d in docs)  # every article whole
    assert len(sanad.keyword()) == len(ids)  # the keyword index caught up with the store
    for cid, of in made["copies"].items():
        assert sanad.state.get([f"copy:{cid}"])[f"copy:{cid}"]["of"] == of


@pytest.mark.slow
def test_sanad_remove_of_a_recorded_copy_says_so_and_its_original_stops_listing_it(tmp_path, cache_dir, embedder):
    embedder.model_path()  # the session's model build, reused by the subprocesses
    rng = random.Random(5)
    text = story(rng, 120)
    records = [{"id": "first", "title": "خبر", "text": text, "source": "a"},
               {"id": "second", "title": "خبر", "text": edited(text, rng), "source": "b"}]
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    env = {**os.environ, "SANAD_HOME": str(tmp_path / "home"), "SANAD_CACHE_DIR": str(cache_dir),
           "HF_HUB_OFFLINE": "1", "SANAD_CORPUS": ""}
    out, err = sanad_cli(env, "ingest", str(path)).communicate(timeout=600)
    assert "1 copies" in out, err
    proc = sanad_cli(env, "remove", "second")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "a recorded copy of first" in out
    from rag import Sanad
    from config import load_settings

    sanad = Sanad(load_settings(home=tmp_path / "home", cache_dir=str(cache_dir), corpus=""))
    assert sanad.originals(["second"]) == {} and sanad.doc_ids() == ["first"]
    from rag.dedupe import STORY

    story_of_first = sanad.state.get([f"{STORY}:first"]).get(f"{STORY}:first") or {"copies": []}
    assert [c["doc_id"] for c in story_of_first["copies"]] == []
    proc = sanad_cli(env, "remove", "nosuch")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1 and "no article with id 'nosuch'" in err
