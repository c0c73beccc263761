"""End to end: the real python-telegram-bot Application, with its real HTTP layer, talking to a
fake Bot API server on 127.0.0.1 (getUpdates and webhook), over the real engine."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser

import pytest
from fake_telegram import BOT_ID, BOT_USERNAME, FakeTelegram

from bot.app import TokenMissing, build_application
from bot.service import BotService
from config import load_settings
from rag.records import Answer, Citation, Retrieved

TOKEN = "123456:TEST-token-that-must-never-be-logged"
ADMIN = 42
RLM = "\u200f"


class RunningBot:
    """Runs an Application (polling or webhook) on its own event loop thread."""

    def __init__(self, app, webhook: dict | None = None):
        self.app = app
        self.webhook = webhook
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _call(self, coro, timeout=60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self):
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        if self.webhook:
            await self.app.updater.start_webhook(**self.webhook)
        else:
            await self.app.updater.start_polling(poll_interval=0.0, timeout=1)
        await self.app.start()

    async def _stop(self):
        if self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)

    def __enter__(self):
        self.thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc):
        try:
            self._call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


class TagChecker(HTMLParser):
    """Telegram accepts a few tags, properly nested: check a reply would be accepted."""

    ALLOWED = {"b", "i", "u", "s", "code", "pre", "a", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        assert tag in self.ALLOWED, f"tag <{tag}> is not Telegram HTML"
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()


def valid_html(text: str) -> bool:
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    assert not checker.stack, f"unclosed tags {checker.stack}"
    assert len(text) <= 4096
    return True


@pytest.fixture()
def fake():
    server = FakeTelegram(TOKEN).start()
    yield server
    server.stop()


def bot_settings(fake, tmp_path, **overrides):
    values = dict(
        home=tmp_path / "bot-home",
        telegram_token=TOKEN,
        telegram_base_url=fake.base_url,
        bot_admins=[ADMIN],
        bot_user_rate_per_minute=30,
    )
    values.update(overrides)
    return load_settings(**values)


def start_bot(fake, tmp_path, sanad, webhook=None, **overrides):
    settings = bot_settings(fake, tmp_path, **overrides)
    return RunningBot(build_application(BotService(sanad, settings), settings), webhook)


def reply_to(fake, chat_id, count=1):
    return [c["text"] for c in fake.wait_for("sendMessage", chat_id, count)]


# --- questions -----------------------------------------------------------------------
def test_answered_question_has_escaped_html_citations_and_buttons(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        fake.message("من هو وزير الداخلية الروسي؟", user_id=11)
        (sent,) = fake.wait_for("sendMessage", 11)
    text = sent["text"]
    assert sent["parse_mode"] == "HTML" and valid_html(text)
    assert "كولوكولتسيف" in text and "[1]" in text and "المصادر:" in text
    assert "asharq-russia-iran-security" in text
    assert all(line.startswith(RLM) for line in text.split("\n") if line)
    buttons = [b["callback_data"] for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["p", "m"]
    assert any(c.get("action") == "typing" for c in fake.calls_to("sendChatAction", 11))
    commands = fake.calls_to("setMyCommands")[0]["commands"]
    assert {c["command"] for c in commands} >= {"start", "help", "sources", "stats", "reset"}
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in c["description"]) for c in commands)


def test_abstention_reply_has_no_buttons(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        fake.message("من فاز بكأس العالم لكرة القدم؟", user_id=12)
        (sent,) = fake.wait_for("sendMessage", 12)
    assert "لا أجد" in sent["text"] and "reply_markup" not in sent


def test_english_question_gets_english_phrases(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        fake.message("What is the population of China?", user_id=13, language="en")
        (sent,) = fake.wait_for("sendMessage", 13)
    assert "could not find" in sent["text"] or "I found no sure answer" in sent["text"], sent["text"]


def test_english_question_over_arabic_articles_gets_an_english_frame_and_the_arabic_quote(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        fake.message("How many publishers took part in the book fair?", user_id=14, language="en")
        (sent,) = fake.wait_for("sendMessage", 14)
    text = sent["text"]
    assert text.startswith("<b>Answer:</b>") and "900" in text and "Sources:" in text and valid_html(text)
    assert "دار نشر" in text and "المصادر" not in text  # the quote as written, the frame in English
    buttons = [b["text"] for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["📄 Full passages", "➕ Related passages"]


def test_follow_up_question_uses_the_previous_turn_and_reset_forgets(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        fake.message("من وقع اتفاقية التعاون بين شرطة البلدين؟", user_id=14)
        fake.wait_for("sendMessage", 14, 1)
        fake.message("وفي أي مجال؟", user_id=14)  # alone, it finds another sentence
        texts = reply_to(fake, 14, 2)
        fake.message("/reset", user_id=14, entities=[{"type": "bot_command", "offset": 0, "length": 6}])
        texts = reply_to(fake, 14, 3)
    assert "asharq-russia-iran-security" in texts[1] and "العمليات المشتركة" in texts[1]
    assert "نسيت" in texts[2]


def test_special_characters_and_a_10000_character_message(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        fake.message("<b>من</b> هو وزير الداخلية & الروسي؟ *_`[x](y)", user_id=15)
        fake.message("من هو وزير الداخلية الروسي؟ " + "ك" * 10_000, user_id=16)
        (special,) = fake.wait_for("sendMessage", 15)
        long_replies = fake.wait_for("sendMessage", 16)
    assert valid_html(special["text"])
    assert all(valid_html(m["text"]) for m in long_replies)
    assert "طويل" in long_replies[0]["text"]  # the truncation notice


def test_empty_and_sticker_only_messages(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        fake.message(None, user_id=17, sticker={"file_id": "st1", "file_unique_id": "u1", "type": "regular",
                                                 "width": 512, "height": 512, "is_animated": False, "is_video": False})
        fake.message("   ", user_id=18)
        (sticker,) = fake.wait_for("sendMessage", 17)
        (empty,) = fake.wait_for("sendMessage", 18)
    assert "سؤالًا نصيًا" in sticker["text"] and "سؤالًا نصيًا" in empty["text"]


def test_rate_limit_hit(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded, bot_user_rate_per_minute=2):
        for _ in range(3):
            fake.message("من هو وزير الداخلية الروسي؟", user_id=19)
        texts = reply_to(fake, 19, 3)
    assert sum("انتظر دقيقة" in t for t in texts) == 1
    assert sum("كولوكولتسيف" in t for t in texts) == 2


def test_bot_processes_hold_no_state_of_their_own(fake, tmp_path, make_sanad, corpus):
    """Two bot processes behind one Chroma server (a real `chroma run`): the second takes a
    chat's follow-up, counts its rate limit and forgets on /reset with what the first left
    in the store; neither keeps anything in memory."""
    from chroma_server import ChromaServer

    server = ChromaServer(tmp_path / "chroma-data").start()
    try:
        first = make_sanad(home=tmp_path / "first", chroma_url=server.url)
        first.ingest(corpus)
        with start_bot(fake, tmp_path, first, bot_user_rate_per_minute=3):
            fake.message("من وقع اتفاقية التعاون بين شرطة البلدين؟", user_id=50)
            reply_to(fake, 50, 1)
        second = make_sanad(home=tmp_path / "second", chroma_url=server.url)
        with start_bot(fake, tmp_path, second, bot_user_rate_per_minute=3):
            fake.message("وفي أي مجال؟", user_id=50)  # a follow-up of the first process's turn
            reply_to(fake, 50, 2)
            fake.message("/reset", user_id=50, entities=[{"type": "bot_command", "offset": 0, "length": 6}])
            reply_to(fake, 50, 3)
            fake.message("وفي أي مجال؟", user_id=50)  # the third question this minute: the last allowed
            reply_to(fake, 50, 4)
            fake.message("وفي أي مجال؟", user_id=50)
            texts = reply_to(fake, 50, 5)
    finally:
        server.stop()
    answers = [t.split("\n")[0] for t in texts]  # the answer line, before the sources
    assert "العمليات المشتركة" in answers[1]
    assert "نسيت" in answers[2]
    assert "العمليات المشتركة" not in answers[3]  # forgotten: answered alone
    assert "انتظر دقيقة" in answers[4]


class LongAnswerer:
    name = "long"

    def answer(self, question: str, retrieved: Retrieved) -> Answer:
        sentence = "هذه جملة طويلة في جواب طويل جدا عن سؤال المستخدم <وفيها> رموز & خاصة. "
        c = retrieved.hits[0].chunk
        cite = Citation(c.doc_id, c.title, c.chunk_id, c.text, c.start, c.end, 1.0)
        return Answer(question, sentence * 150, False, [cite], 1.0, self.name, hits=retrieved.hits)


def test_very_long_answer_is_split_at_sentences(fake, tmp_path, make_sanad, corpus):
    sanad = make_sanad()
    sanad._answerer = LongAnswerer()
    sanad.ingest(corpus)
    with start_bot(fake, tmp_path, sanad):
        fake.message("سؤال طويل الجواب عن الاتفاقية", user_id=20)
        fake.wait_for("sendMessage", 20, 3, timeout=60)
        import time

        time.sleep(1.0)
        sent = fake.calls_to("sendMessage", 20)
    assert len(sent) >= 3
    for m in sent:
        assert valid_html(m["text"])
        assert m["text"].rstrip().endswith((".", "</b>", "</i>", "</code>", "»"))
    assert "&lt;وفيها&gt;" in sent[0]["text"]
    assert "reply_markup" in sent[-1] and all("reply_markup" not in m for m in sent[:-1])


def test_engine_error_gets_an_apology_and_the_token_stays_out_of_logs(fake, tmp_path, seeded, caplog):
    class Broken:
        settings = seeded.settings

        def ask(self, question, history=None):
            raise RuntimeError(f"engine exploded while holding {TOKEN}")

    from rag.logs import RedactSecrets

    caplog.handler.addFilter(RedactSecrets([TOKEN]))
    caplog.set_level(logging.DEBUG)
    with start_bot(fake, tmp_path, Broken()):
        fake.message("من هو وزير الداخلية الروسي؟", user_id=21)
        (sent,) = fake.wait_for("sendMessage", 21)
    assert "عذرًا" in sent["text"] and "Traceback" not in sent["text"] and "exploded" not in sent["text"]
    assert "engine exploded" in caplog.text
    assert TOKEN not in caplog.text and "[REDACTED]" in caplog.text


# --- buttons and commands --------------------------------------------------------------
def test_buttons_show_full_passages_and_related_passages(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        qid = fake.message("من وقع اتفاقية التعاون بين شرطة البلدين؟", user_id=22)
        (answer,) = fake.wait_for("sendMessage", 22)
        bot_msg = {
            "message_id": 5000,
            "date": 0,
            "chat": {"id": 22, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Sanad"},
            "text": answer["text"],
            "reply_to_message": {"message_id": qid, "date": 0, "chat": {"id": 22, "type": "private"},
                                 "text": "من وقع اتفاقية التعاون بين شرطة البلدين؟"},
        }
        user = {"id": 22, "is_bot": False, "first_name": "U", "language_code": "ar"}
        fake.push({"callback_query": {"id": "cb1", "from": user, "chat_instance": "x", "data": "p", "message": bot_msg}})
        passages = fake.wait_for("sendMessage", 22, 2)[1]
        fake.push({"callback_query": {"id": "cb2", "from": user, "chat_instance": "x", "data": "m", "message": bot_msg}})
        more = fake.wait_for("sendMessage", 22, 3)[2]
        answered = fake.wait_for("answerCallbackQuery", None, 2)
    assert {a["callback_query_id"] for a in answered} == {"cb1", "cb2"}
    assert "رئيسي جهازي الشرطة" in passages["text"] and valid_html(passages["text"])
    assert len(passages["text"]) > len(answer["text"]) / 2
    assert "مقاطع ذات صلة لا تذكر الجواب" in more["text"] and valid_html(more["text"])
    assert "رئيسي جهازي الشرطة" not in more["text"]  # the source is not among the related passages
    assert "[2]" not in answer["text"]  # one source: the sentence that holds the answer


def test_start_help_sources_stats(fake, tmp_path, seeded):
    def cmd(text, uid):
        fake.message(text, user_id=uid, entities=[{"type": "bot_command", "offset": 0, "length": len(text)}])

    with start_bot(fake, tmp_path, seeded):
        cmd("/start", 23)
        cmd("/help", 24)
        cmd("/sources", 25)
        cmd("/stats", 26)
        start = reply_to(fake, 23)[0]
        helptext = reply_to(fake, 24)[0]
        sources = reply_to(fake, 25)[0]
        stats = reply_to(fake, 26)[0]
    assert "سند" in start and "مثلًا" in start
    assert "/sources" in helptext
    assert "asharq-russia-iran-security" in sources and valid_html(sources)
    assert "6" in stats and "e5" in stats


def test_group_chat_answers_only_when_mentioned(fake, tmp_path, seeded):
    with start_bot(fake, tmp_path, seeded):
        fake.message("من هو وزير الداخلية الروسي؟", user_id=27, chat_id=-100, chat_type="supergroup")
        fake.message(f"@{BOT_USERNAME} من هو وزير الداخلية الروسي؟", user_id=27, chat_id=-100, chat_type="supergroup")
        (sent,) = fake.wait_for("sendMessage", -100)
        import time

        time.sleep(1.0)
        assert len(fake.calls_to("sendMessage", -100)) == 1
    assert "كولوكولتسيف" in sent["text"]


# --- uploads ---------------------------------------------------------------------------
ARTICLE = (
    "شركة <AT&T> توقع عقدا لبناء مرصد فلكي في واحة سيوة\n\n"
    "وقعت شركة <AT&T> يوم الاثنين عقدا بقيمة 75 مليون دولار لبناء مرصد فلكي في واحة سيوة. "
    "وقال مدير المشروع نبيل الصافي إن المرصد سيفتتح في عام 2029 وسيضم أكبر تلسكوب في المنطقة."
)


def document_update(fake, user_id, name, data):
    fake.files[f"documents/{name}"] = data
    fake.message(None, user_id=user_id, document={"file_id": name, "file_unique_id": f"u-{name}", "file_name": name,
                                                  "file_size": len(data)})


def test_admin_upload_is_answerable_right_after(fake, tmp_path, make_sanad, corpus):
    sanad = make_sanad()
    sanad.ingest(corpus)
    with start_bot(fake, tmp_path, sanad):
        document_update(fake, ADMIN, "observatory.txt", ARTICLE.encode())
        (added,) = fake.wait_for("sendMessage", ADMIN)
        fake.message("من هو مدير مشروع المرصد الفلكي في سيوة؟", user_id=ADMIN)
        answer = fake.wait_for("sendMessage", ADMIN, 2)[1]
    assert fake.calls_to("getFile")
    assert "تمت الإضافة" in added["text"] and "1 added" in added["text"]
    assert "نبيل الصافي" in answer["text"] and "observatory" in answer["text"]
    assert "&lt;AT&amp;T&gt;" in answer["text"] and valid_html(answer["text"])


def test_non_admin_upload_is_refused_and_bad_files_are_explained(fake, tmp_path, make_sanad, corpus):
    sanad = make_sanad()
    with start_bot(fake, tmp_path, sanad, bot_max_upload_bytes=200):
        document_update(fake, 30, "x.txt", ARTICLE.encode())
        (refused,) = fake.wait_for("sendMessage", 30)
        document_update(fake, ADMIN, "photo.png", b"\x89PNG")
        document_update(fake, ADMIN, "big.txt", ARTICLE.encode() * 3)
        document_update(fake, ADMIN, "legacy.txt", "وزير الداخلية زار طهران".encode("cp1256"))
        texts = reply_to(fake, ADMIN, 3)
    assert "للمشرفين فقط" in refused["text"]
    assert not any(c["file_id"] == "x.txt" for c in fake.calls_to("getFile"))
    # updates are handled concurrently: replies may come in any order
    assert any("غير مدعوم" in t for t in texts)
    assert any("200" in t and "أكبر" in t for t in texts)
    assert any("windows-1256" in t for t in texts)


def test_reply_ingest_by_admin(fake, tmp_path, make_sanad, corpus):
    sanad = make_sanad()
    sanad.ingest(corpus)
    with start_bot(fake, tmp_path, sanad):
        original = {"message_id": 77, "date": 0, "chat": {"id": ADMIN, "type": "private"},
                    "from": {"id": 5, "is_bot": False, "first_name": "X"},
                    "text": "مهرجان الزيتون يفتتح في جرش\n\nافتتح مهرجان الزيتون السنوي في جرش بمشاركة 300 مزارع."}
        fake.message("/ingest", user_id=ADMIN, reply_to_message=original,
                     entities=[{"type": "bot_command", "offset": 0, "length": 7}])
        (done,) = fake.wait_for("sendMessage", ADMIN)
        fake.message("كم مزارعا شارك في مهرجان الزيتون؟", user_id=ADMIN)
        answer = fake.wait_for("sendMessage", ADMIN, 2)[1]
    assert "1 added" in done["text"] and "300" in answer["text"]


# --- start-up and webhook --------------------------------------------------------------
def test_missing_and_rejected_tokens(fake, tmp_path, seeded):
    settings = bot_settings(fake, tmp_path, telegram_token="")
    with pytest.raises(TokenMissing, match="TELEGRAM_BOT_TOKEN"):
        build_application(BotService(seeded, settings), settings)
    from telegram.error import InvalidToken

    bad = bot_settings(fake, tmp_path, telegram_token="999:wrong")
    app = build_application(BotService(seeded, bad), bad)
    with pytest.raises(InvalidToken):
        asyncio.run(app.initialize())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_checks_the_secret_token(fake, tmp_path, seeded):
    port = free_port()
    hook = dict(listen="127.0.0.1", port=port, url_path="tg", secret_token="s3cret-value",
                webhook_url=f"http://127.0.0.1:{port}/tg")
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 31, "type": "private"},
                                          "from": {"id": 31, "is_bot": False, "first_name": "U"},
                                          "text": "من هو وزير الداخلية الروسي؟"}}

    def post(secret):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/tg", data=json.dumps(update).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {})})
        try:
            return urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as exc:
            return exc.code

    with start_bot(fake, tmp_path, seeded, webhook=hook):
        assert fake.calls_to("setWebhook")[0]["secret_token"] == "s3cret-value"
        assert post("wrong") == 403
        assert post(None) == 403
        assert post("s3cret-value") == 200
        (sent,) = fake.wait_for("sendMessage", 31)
    assert "كولوكولتسيف" in sent["text"]
    assert len(fake.calls_to("sendMessage", 31)) == 1


def test_llm_answer_is_streamed_into_the_reply(fake, tmp_path, seeded):
    from fake_openai import FakeOpenAI

    llm = FakeOpenAI()
    llm.default = {"text": "وزير الداخلية الروسي هو فلاديمير كولوكولتسيف كما تقول المصادر [1]."}
    sanad = llm.engine(seeded)
    try:
        with start_bot(fake, tmp_path, sanad):
            fake.message("من هو وزير الداخلية الروسي؟", user_id=40)
            (draft,) = fake.wait_for("sendMessage", 40)
            (final,) = fake.wait_for("editMessageText", 40)
    finally:
        llm.stop()
    assert llm.requests[0]["stream"] is True
    assert draft["text"].endswith("…")  # the growing draft, later replaced by the checked answer
    assert "كولوكولتسيف" in final["text"] and "[1]" in final["text"] and valid_html(final["text"])
    assert final["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "p"


def test_burst_every_accepted_question_gets_exactly_one_reply(fake, tmp_path, seeded):
    """A bounded burst: 12 users x 6 questions with a limit of 5 a minute each."""
    import psutil

    users, each, limit = 12, 6, 5
    questions = ["من هو وزير الداخلية الروسي؟", "من فاز بكأس العالم لكرة القدم؟", "كم تبلغ الطاقة الإنتاجية لمحطة التحلية؟"]
    proc = psutil.Process()
    with start_bot(fake, tmp_path, seeded, bot_user_rate_per_minute=limit):
        rss = []
        for round_ in range(2):
            base = 100 + round_ * 100
            for i in range(each):
                for u in range(users):
                    fake.message(questions[(i + u) % 3], user_id=base + u)
            for u in range(users):
                fake.wait_for("sendMessage", base + u, each, timeout=120)
            rss.append(proc.memory_info().rss)
        import time

        time.sleep(1.0)
        for round_ in range(2):
            for u in range(users):
                texts = [c["text"] for c in fake.calls_to("sendMessage", 100 + round_ * 100 + u)]
                assert len(texts) == each  # exactly one reply per question, none lost
                assert sum("انتظر دقيقة" in t for t in texts) == each - limit
    assert rss[1] - rss[0] < 80 * 2**20  # a second burst does not keep growing memory


# --- live news ---------------------------------------------------------------------------
def command(fake, text, user_id):
    word = text.split()[0]
    fake.message(text, user_id=user_id, entities=[{"type": "bot_command", "offset": 0, "length": len(word)}])


def test_admins_follow_feeds_and_the_bot_polls_them(fake, tmp_path, make_sanad):
    """/follow polls the feed at once; the bot's own follow loop picks up what the feed gains
    later; /feeds and /unfollow; non-admins are refused. Citations carry the date and a link."""
    from news_server import NewsServer, article_html, rfc822, rss
    from test_feeds import BASKETBALL, BRIDGE, DATES

    site = NewsServer().start()
    try:
        bridge = site.page("/bridge.html", article_html(*BRIDGE, DATES[0]))
        feed = site.feed("/rss.xml", rss([(bridge, BRIDGE[0], rfc822(DATES[0]))]))
        sanad = make_sanad(corpus="", fetch_host_delay=0.0)
        with start_bot(fake, tmp_path, sanad, follow_every=1.0, fetch_host_delay=0.0):
            command(fake, f"/follow {feed}", 30)
            command(fake, f"/follow {feed}", ADMIN)
            command(fake, "/follow", ADMIN)
            replies = reply_to(fake, ADMIN, 2) + reply_to(fake, 30, 1)
            basket = site.page("/basketball.html", article_html(*BASKETBALL, DATES[2]))
            site.feed("/rss.xml", rss([(basket, BASKETBALL[0], rfc822(DATES[2])), (bridge, BRIDGE[0], rfc822(DATES[0]))]))
            deadline = time.time() + 60
            while site.count("/basketball.html") == 0 and time.time() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # the ingest after the fetch
            fake.message("من فاز بكأس البطولة الإقليمية لكرة السلة؟", user_id=ADMIN)
            command(fake, "/feeds", ADMIN)
            reply_to(fake, ADMIN, 4)  # updates are handled concurrently: /unfollow after both replies
            command(fake, f"/unfollow {feed}", ADMIN)
            texts = reply_to(fake, ADMIN, 5)[2:]
    finally:
        site.stop()
    assert any("أتابع الآن" in t and "1 added" in t for t in replies)
    assert any("رابط خلاصة" in t for t in replies) and any("للمشرفين فقط" in t for t in replies)
    answer = next(t for t in texts if "الجواب" in t)
    assert "النخيل" in answer and DATES[2] in answer and f'href="{basket}"' in answer and valid_html(answer)
    listing = next(t for t in texts if "الخلاصات المتابَعة" in t)
    assert feed in listing and "· 2" in listing  # two articles brought by this feed
    assert any("أوقفت متابعة" in t for t in texts)
