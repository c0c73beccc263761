"""The bot's own phrases: Arabic, or English when the user writes in English."""

from __future__ import annotations

from rag import ABSTAIN_AR, ABSTAIN_EN, CLOSEST_AR, CLOSEST_EN, is_arabic

PHRASES: dict[str, tuple[str, str]] = {
    # key: (Arabic, English)
    "start": (
        "أهلًا! أنا «سند»، أجيب عن أسئلتك من أرشيف الأخبار وأذكر دائمًا المقاطع التي يستند إليها الجواب.\n"
        "اكتب سؤالك، مثلًا: من وقع اتفاقية التعاون بين شرطة البلدين؟",
        "Hello! I am Sanad. I answer your questions from a news archive and always show the passages "
        "the answer rests on.\nAsk a question, e.g.: Who signed the police cooperation agreement?",
    ),
    "help": (
        "اكتب سؤالًا بالعربية وسأجيب مع ذكر المصادر.\n"
        "/sources قائمة المقالات\n/stats إحصاءات الفهرس\n/reset نسيان المحادثة\n"
        "المشرفون: أرسل ملف .txt أو .md أو .html أو .jsonl لإضافة مقال، أو رد على رسالة بالأمر /ingest؛ "
        "‏/follow رابط_خلاصة لمتابعة خلاصة أخبار، ‏/unfollow رابط لإيقافها، ‏/feeds الخلاصات المتابَعة.",
        "Ask a question and I will answer with sources.\n"
        "/sources list of articles\n/stats index statistics\n/reset forget this conversation\n"
        "Admins: send a .txt, .md, .html or .jsonl file to add an article, or reply /ingest to a message; "
        "/follow FEED_URL follows a news feed, /unfollow URL stops, /feeds lists them.",
    ),
    "answer": ("الجواب:", "Answer:"),
    "sources": ("المصادر:", "Sources:"),
    "also": ("ورد أيضًا في", "also reported by"),
    "also_in": ("نُشر أيضًا في:", "Also published in:"),
    "related": ("مقاطع ذات صلة لا تذكر الجواب:", "Related passages (they do not state the answer):"),
    "no_related": ("لا توجد مقاطع أخرى ذات صلة.", "There are no other related passages."),
    "no_passages": ("لم أجد المقاطع.", "The passages were not found."),
    "abstain": (ABSTAIN_AR, ABSTAIN_EN),
    "closest": (CLOSEST_AR, CLOSEST_EN),
    "confidence": ("الثقة:", "Confidence:"),
    "button_passages": ("📄 النص الكامل", "📄 Full passages"),
    "button_more": ("➕ مقاطع ذات صلة", "➕ Related passages"),
    "button_next": ("التالي ◀", "Next ▶"),
    "button_prev": ("▶ السابق", "◀ Previous"),
    "source_list": ("المقالات في الفهرس", "Articles in the index"),
    "stat_articles": ("المقالات", "Articles"),
    "stat_chunks": ("المقاطع", "Chunks"),
    "stat_model": ("النموذج", "Model"),
    "stat_age": ("عمر الفهرس", "Index age"),
    "reset": ("نسيتُ المحادثة السابقة.", "I forgot the earlier conversation."),
    "rate_limited": (
        "أسئلة كثيرة في وقت قصير، انتظر دقيقة ثم أعد المحاولة من فضلك.",
        "Too many questions in a short time; please wait a minute and try again.",
    ),
    "error": (
        "عذرًا، حدث خطأ أثناء البحث عن الجواب. حاول مرة أخرى بعد قليل.",
        "Sorry, something went wrong while looking for the answer. Please try again shortly.",
    ),
    "empty": ("أرسل سؤالًا نصيًا من فضلك.", "Please send your question as text."),
    "not_allowed": ("عذرًا، هذا البوت متاح لمستخدمين محددين فقط.", "Sorry, this bot is available to selected users only."),
    "admin_only": (
        "عذرًا، إضافة المقالات متاحة للمشرفين فقط.",
        "Sorry, only admins can add articles.",
    ),
    "bad_type": (
        "نوع الملف غير مدعوم. الأنواع المقبولة: .txt و.md و.html و.jsonl و.json",
        "Unsupported file type. Accepted: .txt, .md, .html, .jsonl, .json",
    ),
    "too_big": ("الملف أكبر من الحد المسموح ({limit} بايت).", "The file is over the limit ({limit} bytes)."),
    "ingested": ("تمت الإضافة: {summary}", "Added: {summary}"),
    "ingest_failed": ("لم تتم إضافة الملف: {errors}", "The file was not added: {errors}"),
    "ingest_usage": (
        "رد بالأمر /ingest على رسالة نصية لإضافتها مقالًا.",
        "Reply /ingest to a text message to add it as an article.",
    ),
    "follow_usage": (
        "اكتب رابط خلاصة RSS أو Atom بعد الأمر، مثلًا: /follow https://example.org/rss",
        "Give an RSS or Atom feed URL after the command, e.g. /follow https://example.org/rss",
    ),
    "following": ("أتابع الآن {url}\n{report}", "Now following {url}\n{report}"),
    "already_following": ("أتابع هذه الخلاصة من قبل.", "That feed is already followed."),
    "unfollowed": ("أوقفت متابعة {url}. المقالات المضافة منها باقية.", "No longer following {url}; its articles stay."),
    "not_following": ("لا أتابع هذا الرابط.", "That URL is not followed."),
    "no_feeds": ("لا توجد خلاصات متابَعة.", "No feeds are followed."),
    "feeds": ("الخلاصات المتابَعة", "Followed feeds"),
    "never": ("لم تُقرأ بعد", "not polled yet"),
}


def lang_of(text: str | None) -> str:
    return "ar" if not text or is_arabic(text) else "en"


def phrase(key: str, lang: str = "ar", **kwargs) -> str:
    ar, en = PHRASES[key]
    text = ar if lang == "ar" else en
    return text.format(**kwargs) if kwargs else text


COMMANDS_AR = [
    ("start", "ما هو سند ومثال على سؤال"),
    ("help", "طريقة الاستخدام"),
    ("sources", "المقالات في الفهرس"),
    ("stats", "إحصاءات الفهرس"),
    ("reset", "نسيان المحادثة"),
    ("ingest", "إضافة رسالة مقالًا (للمشرفين)"),
    ("follow", "متابعة خلاصة أخبار (للمشرفين)"),
    ("unfollow", "إيقاف متابعة خلاصة (للمشرفين)"),
    ("feeds", "الخلاصات المتابَعة (للمشرفين)"),
]
