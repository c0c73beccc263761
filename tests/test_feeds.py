"""Live news: pages and feeds from a real HTTP server on 127.0.0.1 (tests/news_server.py), fetched
by the real fetcher, parsed by feedparser and trafilatura, ingested with the real model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from news_server import NewsServer, article_html, atom, rfc822, rss

from config import load_settings
from rag import FetchError, Follower, LoadError, parse_interval
from rag.feeds import parse_feed
from rag.recency import asked_date, prefer_dates, wants_recent
from rag.records import Chunk, Hit
from rag.web import Fetcher

BRIDGE = (
    "افتتاح جسر وادي النور الجديد بطول 12 كيلومترا",
    [
        "افتتح وزير النقل خالد العامري صباح الخميس جسر وادي النور الجديد الذي يربط ضفتي الوادي بطول 12 كيلومترا، "
        "بعد أربع سنوات من العمل شارك فيها أكثر من ثلاثة آلاف عامل.",
        "وقال الوزير إن الجسر سيختصر زمن الرحلة بين المدينتين من ساعتين إلى عشرين دقيقة، وإن تكلفته بلغت "
        "850 مليون دولار مولتها الحكومة بالكامل دون قروض خارجية.",
    ],
)
RATE = (
    "البنك المركزي يرفع سعر الفائدة إلى 5 في المائة",
    [
        "قرر البنك المركزي في اجتماعه الطارئ يوم الاثنين رفع سعر الفائدة الرئيسي إلى 5 في المائة، في أول زيادة "
        "منذ عامين، بعد ارتفاع معدل التضخم السنوي إلى 4.2 في المائة في أكتوبر.",
        "وقال محافظ البنك المركزي الدكتور عمر الزين إن القرار يهدف إلى حماية القدرة الشرائية للمواطنين، وإن "
        "البنك سيراجع أسعار الفائدة مجددا في اجتماعه المقبل في يناير.",
    ],
)
BASKETBALL = (
    "فريق النخيل يفوز بكأس البطولة الإقليمية لكرة السلة",
    [
        "فاز فريق النخيل بكأس البطولة الإقليمية لكرة السلة بعد تغلبه على فريق الساحل بنتيجة 88 مقابل 81 في "
        "المباراة النهائية التي أقيمت مساء السبت في الصالة المغطاة بالعاصمة أمام عشرة آلاف متفرج.",
        "وقال مدرب الفريق سامي الحداد إن اللقب ثمرة عمل استمر ثلاثة مواسم، وأهدى الفوز إلى جماهير النادي.",
    ],
)
DATES = ("2026-11-26", "2026-11-30", "2026-12-01")
OASIS_CP1256 = (
    "مهرجان التمور في واحة سيوة يستقبل 40 ألف زائر",
    [
        "استقبل مهرجان التمور السنوي في واحة سيوة أكثر من 40 ألف زائر خلال أيامه الخمسة، وشارك فيه مئتا مزارع "
        "عرضوا أكثر من ثلاثين صنفا من التمور المحلية.",
        "وقالت اللجنة المنظمة إن مبيعات المهرجان تجاوزت مليوني جنيه، وإن الدورة المقبلة ستقام في أكتوبر.",
    ],
)


@pytest.fixture()
def site():
    server = NewsServer().start()
    yield server
    server.stop()


def fetch_settings(tmp_path, **kw):
    values = dict(home=tmp_path / "home", corpus="", fetch_host_delay=0.0, fetch_timeout=1.0, fetch_retries=1)
    values.update(kw)
    return load_settings(**values)


def put_article(site, path, art, date, **kw):
    title, paragraphs = art
    return site.page(path, article_html(title, paragraphs, date, **kw))


# --- no model: fetching, feeds, dates ---------------------------------------------------
def test_intervals_and_dates_in_questions():
    assert parse_interval("15m") == 900 and parse_interval("30s") == 30 and parse_interval("2h") == 7200
    assert parse_interval(90) == 90
    with pytest.raises(ValueError, match="not an interval"):
        parse_interval("soon")
    assert wants_recent("ما آخر التطورات في ملف الطاقة؟") and wants_recent("ما أحدث قرار للبنك؟")
    assert not wants_recent("من هو الشخص الآخر؟") and not wants_recent("من وقع الاتفاقية؟")
    assert asked_date("ماذا قرر البنك في 21 مايو 2026؟") == "2026-05-21"
    assert asked_date("ماذا حدث في 2026-03-14؟") == "2026-03-14"
    assert asked_date("ماذا جرى في 14 مارس؟") == "-03-14"


def _hit(doc, score, date):
    return Hit(Chunk(f"{doc}:0", doc, doc, "نص", 0, 2, 0, "h", date=date), score)


def test_recent_and_dated_questions_choose_among_close_passages():
    hits = [_hit("old", 1.0, "2026-05-21"), _hit("undated", 0.9, ""), _hit("new", 0.8, "2026-11-30"),
            _hit("far", -1.0, "2026-12-01")]
    latest, together = prefer_dates(hits, "ما آخر قرار للبنك المركزي؟", margin=0.5)
    assert [h.chunk.doc_id for h in latest] == ["new", "undated", "far"]  # "far" is not relevant enough to choose
    assert [h.score for h in latest] == [1.0, 0.9, -1.0]  # the scores stay where they were
    assert together == {"old", "undated", "new"}
    dated, _ = prefer_dates(hits, "ماذا قرر البنك في 21 مايو 2026؟", margin=0.5)
    assert [h.chunk.doc_id for h in dated] == ["old", "undated", "far"]
    assert prefer_dates(hits, "ماذا قرر البنك في 3 يناير 2026؟", margin=0.5) == (hits, set())  # no such day
    assert prefer_dates(hits, "من هو محافظ البنك المركزي؟", margin=0.5) == (hits, set())


def test_fetcher_failures_are_clear_and_robots_is_respected(site, tmp_path):
    fetcher = Fetcher(fetch_settings(tmp_path, fetch_max_bytes=20_000))
    site.routes["/500"] = (500, {}, b"oops")
    site.routes["/loop-a"] = (302, {"Location": "/loop-b"}, b"")
    site.routes["/loop-b"] = (302, {"Location": "/loop-a"}, b"")
    site.routes["/huge"] = (200, {"Content-Type": "text/html"}, b"<p>" + b"x" * 50_000 + b"</p>")
    site.routes["/slow"] = lambda path: (time.sleep(3), (200, {}, b"late"))[1]
    site.page("/private/a.html", "<p>secret</p>")
    cases = {
        "/missing": "HTTP 404",
        "/500": "HTTP 500",
        "/loop-a": "redirect loop",
        "/huge": "over the limit",
        "/slow": "no answer within 1 s",
        "/private/a.html": "robots.txt",
    }
    for path, message in cases.items():
        with pytest.raises(FetchError, match=message) as exc:
            fetcher.get(site.url + path)
        assert site.url + path in str(exc.value) or path in str(exc.value)
    assert site.count("/500") == 2  # one retry
    assert site.count("/private/a.html") == 0  # never asked for
    with pytest.raises(FetchError, match="only http and https"):
        fetcher.get("file:///etc/passwd")


def test_declared_charset_conditional_get_and_host_delay(site, tmp_path):
    title, paragraphs = OASIS_CP1256
    url = site.page("/oasis.html", article_html(title, paragraphs, DATES[0], charset="windows-1256"), "windows-1256")
    fetcher = Fetcher(fetch_settings(tmp_path, fetch_host_delay=0.3))
    assert "واحة سيوة" in fetcher.get(url).text()
    feed = site.feed("/feed.xml", rss([(url, title, rfc822(DATES[0]))]))
    first = fetcher.get(feed)
    again = fetcher.get(feed, first.etag, first.last_modified)
    assert first.status == 200 and again.not_modified and again.body == b""
    times = site.hits["/oasis.html"] + site.hits["/feed.xml"]
    gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:])]
    assert min(gaps) >= 0.29  # one host: at least fetch_host_delay between two requests
    undeclared = site.page("/legacy.html", article_html(title, paragraphs), "windows-1256", declare=False)
    with pytest.raises(FetchError, match="not valid utf-8"):
        fetcher.get(undeclared).text()


def test_feed_parsing_rss_atom_and_not_a_feed():
    items = parse_feed(rss([("http://x/a", "أ", rfc822("2026-11-01")), ("http://x/b", "ب", rfc822("2026-11-20"))]).encode(),
                       "http://x/rss")
    assert [(i.link, i.date) for i in items] == [("http://x/b", "2026-11-20"), ("http://x/a", "2026-11-01")]
    entries = parse_feed(atom([("http://x/c", "ج", "2026-11-30T10:00:00Z")]).encode(), "http://x/atom")
    assert entries[0].link == "http://x/c" and entries[0].date == "2026-11-30"
    with pytest.raises(FetchError, match="not an RSS/Atom feed"):
        parse_feed(b"<html><body>just a page</body></html>", "http://x/page")
    big = rss([(f"http://x/{i}", str(i), "") for i in range(10_000)]).encode()
    assert len(parse_feed(big, "http://x/big")) == 10_000


# --- with the model: following ------------------------------------------------------------
@pytest.mark.slow
def test_follow_ingests_new_items_once_skips_copies_and_survives_a_restart(site, tmp_path, make_sanad):
    sanad = make_sanad(corpus="", fetch_host_delay=0.0, fetch_timeout=2.0)
    bridge = put_article(site, "/news/bridge.html", BRIDGE, DATES[0], canonical=site.url + "/news/bridge.html")
    copy = put_article(site, "/mirror/bridge-copy.html", BRIDGE, DATES[0])  # the same text
    wire = (BRIDGE[0], ["(واس) - " + BRIDGE[1][0], *BRIDGE[1][1:]])  # a wire copy with its byline: a near-copy
    wired = put_article(site, "/wire/bridge.html", wire, DATES[0])
    rate = put_article(site, "/news/rate.html", RATE, DATES[1])
    items = [(bridge, BRIDGE[0], rfc822(DATES[0])), (copy, BRIDGE[0], rfc822(DATES[0])), (rate, RATE[0], rfc822(DATES[1])),
             (wired, BRIDGE[0], rfc822(DATES[0]))]
    feed = site.feed("/rss.xml", rss(items))
    follower = Follower(sanad)
    assert follower.follow(feed) and not follower.follow(feed)
    first = follower.poll(feed)
    assert (first.listed, first.new, len(first.added), len(first.copies), first.errors) == (4, 4, 2, 2, [])
    assert "4 items, 4 new: 2 added, 2 copies, 0 errors" in first.line()
    assert sorted(d["url"] for d in sanad.sources()) == sorted([bridge, rate])
    assert {d["date"] for d in sanad.sources()} == {DATES[0], DATES[1]}
    # a new process (no memory of its own): a conditional GET, nothing fetched again
    restarted = Follower(make_sanad(corpus=""))
    assert restarted.poll(feed).not_modified
    assert site.count("/news/bridge.html") == 1 and site.requests[-1][1].get("If-None-Match")
    # the feed gains an item
    basket = put_article(site, "/news/basketball.html", BASKETBALL, DATES[2])
    site.feed("/rss.xml", rss([(basket, BASKETBALL[0], rfc822(DATES[2])), *items]))
    later = restarted.poll(feed)
    assert (later.new, len(later.added)) == (1, 1) and site.count("/news/bridge.html") == 1
    answer = sanad.ask("من فاز بكأس البطولة الإقليمية لكرة السلة؟")
    assert not answer.abstained and "النخيل" in answer.answer
    assert answer.citations[0].url == basket and answer.citations[0].date == DATES[2]
    status = {r["url"]: r for r in restarted.status()}
    assert status[feed]["articles"] == 3 and status[feed]["last_error"] == ""
    assert restarted.unfollow(feed) and restarted.followed() == []


@pytest.mark.slow
def test_bad_items_are_logged_and_the_follower_keeps_going(site, tmp_path, make_sanad, caplog):
    sanad = make_sanad(corpus="", fetch_host_delay=0.0, fetch_timeout=1.0, fetch_retries=0, fetch_max_bytes=60_000)
    site.routes["/500.html"] = (500, {}, b"")
    site.routes["/loop.html"] = (302, {"Location": "/loop.html"}, b"")
    site.routes["/huge.html"] = (200, {"Content-Type": "text/html"}, b"<p>" + "خبر ".encode() * 40_000 + b"</p>")
    site.routes["/slow.html"] = lambda path: (time.sleep(2.5), (200, {}, b"late"))[1]
    site.page("/tag/sport.html", "<html><body><nav><a href='/a'>رياضة</a></nav><p>لا شيء</p></body></html>")
    title, paragraphs = OASIS_CP1256
    oasis = site.page("/oasis.html", article_html(title, paragraphs, DATES[0], charset="windows-1256"), "windows-1256")
    bad = ["/404.html", "/500.html", "/loop.html", "/huge.html", "/slow.html", "/tag/sport.html"]
    feed = site.feed("/rss.xml", rss([(site.url + p, p, "") for p in bad] + [(oasis, title, rfc822(DATES[0]))]))
    broken = site.url + "/not-a-feed"
    site.page("/not-a-feed", "<html><body>hello</body></html>")
    lines: list[str] = []
    stop = threading.Event()
    follower = Follower(sanad)
    follower.follow(broken)
    follower.follow(feed)
    runner = threading.Thread(target=follower.run, args=(0.2, stop, lines.append))
    runner.start()
    deadline = time.time() + 120
    while len(lines) < 4 and time.time() < deadline:  # two polls of the two feeds
        time.sleep(0.1)
    stop.set()
    runner.join(30)
    assert lines[0].startswith(broken) and "not an RSS/Atom feed" in lines[0]
    assert "7 items, 7 new: 1 added, 0 copies, 6 errors" in lines[1]
    assert "7 items, 6 new: 0 added" in lines[3]  # the second poll retries the failures only
    reasons = " ".join(r.getMessage() for r in caplog.records)
    for why in ("HTTP 404", "HTTP 500", "redirect", "over the limit", "no answer within", "not an article"):
        assert why in reasons, why
    answer = sanad.ask("كم زائرا استقبل مهرجان التمور في واحة سيوة؟")
    assert "40 ألف" in answer.answer and answer.citations[0].url == oasis


@pytest.mark.slow
def test_a_feed_of_10000_items_is_taken_a_few_at_a_time(site, tmp_path, make_sanad):
    # the 10,000 pages are one story numbered apart: copy detection (rag/dedupe.py) is off here
    sanad = make_sanad(corpus="", fetch_host_delay=0.0, feed_max_items=3, dedupe=False)
    title, paragraphs = BRIDGE
    site.routes.update({f"/n/{i}.html": (200, {"Content-Type": "text/html; charset=utf-8"},
                                         article_html(f"{title} {i}", [f"الخبر رقم {i}. " + p for p in paragraphs],
                                                      DATES[0]).encode())
                        for i in range(10_000)})
    feed = site.feed("/big.xml", rss([(f"{site.url}/n/{i}.html", str(i), "") for i in range(10_000)]))
    follower = Follower(sanad)
    first = follower.poll(feed)
    assert (first.listed, first.new, len(first.added), first.deferred) == (10_000, 10_000, 3, 9_997)
    assert "9997 left for the next poll" in first.line()
    second = follower.poll(feed)  # no validators were kept: the rest is not hidden by a 304
    assert (second.new, len(second.added)) == (9_997, 3)
    assert len(sanad.sources()) == 6


@pytest.mark.slow
def test_latest_question_prefers_the_newer_article(make_sanad, corpus):
    sanad = make_sanad()
    sanad.ingest(corpus)
    title, paragraphs = RATE
    (corpus / "rate.md").write_text(f"---\nid: rate-nov\ndate: {DATES[1]}\n---\n{title}\n\n" + "\n\n".join(paragraphs),
                                    encoding="utf-8")
    sanad.ingest(corpus)
    new = sanad.ask("ما آخر قرار للبنك المركزي بشأن سعر الفائدة؟")
    assert new.citations[0].doc_id == "rate-nov" and new.citations[0].date == DATES[1]
    assert "5 في المائة" in new.answer
    dated = sanad.ask("ماذا قرر البنك المركزي بشأن سعر الفائدة في 21 مايو 2026؟")
    assert dated.citations[0].doc_id == "sanad-demo-central-bank" and "rate-nov" not in {c.doc_id for c in dated.citations}


# --- the command: `sanad follow` while a question is asked -------------------------------------
@pytest.mark.slow
def test_sanad_follow_answers_about_a_new_article_within_a_poll(site, tmp_path, cache_dir, embedder):
    embedder.model_path()  # the session's model build, reused by the subprocesses
    env = {**os.environ, "SANAD_HOME": str(tmp_path / "home"), "SANAD_CACHE_DIR": str(cache_dir),
           "SANAD_CORPUS": "", "SANAD_FETCH_HOST_DELAY": "0", "HF_HUB_OFFLINE": "1"}
    bridge = put_article(site, "/news/bridge.html", BRIDGE, DATES[0])
    feed = site.feed("/rss.xml", rss([(bridge, BRIDGE[0], rfc822(DATES[0]))]))
    every = 3.0
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "follow", feed, "--every", f"{every:g}s"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = []
    threading.Thread(target=lambda: [lines.append((time.time(), ln.strip())) for ln in proc.stdout], daemon=True).start()

    def wait_line(pred, after: float, timeout: float = 180) -> tuple[float, str]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for t, ln in list(lines):
                if t >= after and pred(ln):
                    return t, ln
            if proc.poll() is not None:
                raise AssertionError(f"sanad follow exited: {proc.stderr.read()}")
            time.sleep(0.1)
        raise AssertionError(f"no such line; got {lines}")

    try:
        wait_line(lambda ln: "1 added" in ln, 0)
        basket = put_article(site, "/news/basketball.html", BASKETBALL, DATES[2])
        site.feed("/rss.xml", rss([(basket, BASKETBALL[0], rfc822(DATES[2])), (bridge, BRIDGE[0], rfc822(DATES[0]))]))
        changed = time.time()
        seen_at, line = wait_line(lambda ln: "2 items, 1 new: 1 added" in ln, changed)
        polls_between = [ln for t, ln in lines if changed <= t < seen_at and ln.startswith(feed)]
        assert len(polls_between) <= 1  # the poll that started after the change (or the one in flight)
        ask = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "من فاز بكأس البطولة الإقليمية لكرة السلة؟"],
                             env=env, capture_output=True, text=True, timeout=600)
        assert ask.returncode == 0, ask.stderr
        assert "النخيل" in ask.stdout.split("\n")[0]
        assert f"({DATES[2]})" in ask.stdout and basket in ask.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert site.count("/news/bridge.html") == 1

    def sanad(*args):
        done = subprocess.run([sys.executable, "-m", "rag.cli", *args], env=env, capture_output=True, text=True,
                              timeout=600)
        return done.returncode, done.stdout + done.stderr

    rate = put_article(site, "/news/rate.html", RATE, DATES[1])
    assert sanad("ingest", rate)[1].startswith("added: 127.0.0.1")
    assert sanad("ingest", rate)[1].startswith("unchanged: 127.0.0.1")
    code, out = sanad("ingest", site.url + "/news/gone.html")
    assert code == 1 and "HTTP 404" in out and "Traceback" not in out
    listing = sanad("sources")[1]
    for url, day in ((bridge, DATES[0]), (basket, DATES[2]), (rate, DATES[1])):
        assert any(url in line and day in line for line in listing.splitlines()), listing
    feeds = sanad("feeds")[1]
    assert feed in feeds and "2 articles" in feeds
    assert sanad("unfollow", feed)[0] == 0 and sanad("unfollow", feed)[0] == 1
