"""One short async function per Telegram update type; the work lives in BotService."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.ext import ContextTypes

from bot.format import (
    esc,
    format_answer,
    format_feeds,
    format_passages,
    format_related,
    format_sources,
    format_stats,
)
from bot.phrases import lang_of, phrase
from bot.service import BotService
from rag import QuestionError

log = logging.getLogger(__name__)

SOURCES_PER_PAGE = 10
SEND_ATTEMPTS = 3


def service(context: ContextTypes.DEFAULT_TYPE) -> BotService:
    return context.application.bot_data["service"]


def user_lang(update: Update, text: str | None = None) -> str:
    if text:
        return lang_of(text)
    user = update.effective_user
    return "en" if user and user.language_code and not user.language_code.startswith("ar") else "ar"


async def send(message: Message, text: str, **kwargs) -> Message | None:
    """Reply with HTML; network errors are retried, never dropped silently."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await message.reply_text(text, parse_mode=ParseMode.HTML, **kwargs)
        except BadRequest:
            raise
        except (TimedOut, NetworkError) as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            log.warning("sending failed (%s), retrying", type(exc).__name__)
            await asyncio.sleep(0.5 * attempt)
    return None


async def send_all(message: Message, texts: list[str], markup=None) -> Message | None:
    last = None
    for i, text in enumerate(texts):
        last = await send(message, text, reply_markup=markup if i == len(texts) - 1 else None)
    return last


@contextlib.asynccontextmanager
async def typing(update: Update, context: ContextTypes.DEFAULT_TYPE):
    """Show "typing…" until the block is done (Telegram clears it after ~5 s)."""

    async def keep():
        while True:
            with contextlib.suppress(Exception):
                await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
            await asyncio.sleep(4.5)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()


class Drafter:
    """Shows a streamed answer as it grows: one message, edited at most every EDIT_INTERVAL
    seconds (Telegram allows about one edit a second per chat)."""

    EDIT_INTERVAL = 1.0

    def __init__(self, reply_to: Message, holder: list[Message]):
        self.reply_to = reply_to
        self.holder = holder
        self.last = 0.0
        self.shown = ""

    async def update(self, text: str) -> None:
        now = asyncio.get_running_loop().time()
        if now - self.last < self.EDIT_INTERVAL or not text.strip():
            return
        self.last = now
        preview = esc(text[-3500:]) + " …"
        if not self.holder:
            sent = await send(self.reply_to, preview)
            if sent is not None:
                self.holder.append(sent)
        elif preview != self.shown:
            with contextlib.suppress(BadRequest):  # "message is not modified"
                await self.holder[0].edit_text(preview, parse_mode=ParseMode.HTML)
        self.shown = preview


def answer_buttons(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(phrase("button_passages", lang), callback_data="p"),
          InlineKeyboardButton(phrase("button_more", lang), callback_data="m")]]
    )


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str) -> bool:
    """The allow-list: False (after a polite reply) when this user may not use the bot."""
    if service(context).allowed(update.effective_user.id if update.effective_user else None):
        return True
    await send(update.effective_message, phrase("not_allowed", lang))
    return False


# --- commands ------------------------------------------------------------------------
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = user_lang(update)
    if await gate(update, context, lang):
        await send(update.effective_message, phrase("start", lang))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = user_lang(update)
    if await gate(update, context, lang):
        await send(update.effective_message, phrase("help", lang))


async def reset(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = service(context)
    await svc.run(svc.state.forget, update.effective_chat.id)
    await send(update.effective_message, phrase("reset", user_lang(update)))


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = user_lang(update)
    if not await gate(update, context, lang):
        return
    docs = await service(context).run(service(context).sanad.sources)
    text, pages = format_sources(docs, 0, SOURCES_PER_PAGE, lang)
    await send(update.effective_message, text, reply_markup=source_buttons(0, pages, lang))


def source_buttons(page: int, pages: int, lang: str) -> InlineKeyboardMarkup | None:
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(phrase("button_prev", lang), callback_data=f"s:{page - 1}"))
    if page + 1 < pages:
        row.append(InlineKeyboardButton(phrase("button_next", lang), callback_data=f"s:{page + 1}"))
    return InlineKeyboardMarkup([row]) if row else None


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = user_lang(update)
    if await gate(update, context, lang):
        st = await service(context).run(service(context).sanad.stats)
        await send(update.effective_message, format_stats(st, lang))


async def admin(update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str) -> bool:
    """True for an admin; everyone else is told the command is for admins."""
    user = update.effective_user
    if service(context).is_admin(user.id if user else None):
        return True
    await send(update.effective_message, phrase("admin_only", lang))
    return False


async def ingest_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ingest as a reply to a text message adds that text as an article (admins only)."""
    msg, user = update.effective_message, update.effective_user
    lang = user_lang(update)
    svc = service(context)
    if not await admin(update, context, lang):
        return
    target = msg.reply_to_message
    if target is None or not (target.text or target.caption):
        await send(msg, phrase("ingest_usage", lang))
        return
    doc_id = f"telegram-{target.chat.id}-{target.message_id}"
    report = await svc.ingest_text(doc_id, target.text or target.caption, source=f"Telegram message by {user.id}")
    await send(msg, phrase("ingested", lang, summary=report.summary()))


async def follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow FEED_URL: follow a news feed and poll it once (admins only)."""
    lang = user_lang(update)
    if not await admin(update, context, lang):
        return
    if len(context.args or []) != 1:
        await send(update.effective_message, phrase("follow_usage", lang))
        return
    url = context.args[0]
    try:
        report = await service(context).follow(url)
    except ValueError:
        await send(update.effective_message, phrase("follow_usage", lang))
        return
    if report is None:
        await send(update.effective_message, phrase("already_following", lang))
        return
    await send(update.effective_message, phrase("following", lang, url=esc(url), report=esc(report.line())))


async def unfollow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = user_lang(update)
    if not await admin(update, context, lang):
        return
    url = (context.args or [""])[0]
    done = bool(url) and await service(context).unfollow(url)
    await send(update.effective_message, phrase("unfollowed", lang, url=esc(url)) if done else phrase("not_following", lang))


async def feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = user_lang(update)
    if await admin(update, context, lang):
        await send(update.effective_message, format_feeds(await service(context).feeds(), lang))


# --- messages ------------------------------------------------------------------------
def addressed_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The question in a message, or None when the bot is not addressed (group chats)."""
    msg = update.effective_message
    text = msg.text or ""
    if msg.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        username = context.bot.username or ""
        mention = f"@{username}".lower()
        replied = msg.reply_to_message is not None and msg.reply_to_message.from_user is not None and (
            msg.reply_to_message.from_user.id == context.bot.id
        )
        if mention and mention in text.lower():
            text = re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE)
        elif not replied:
            return None
    return text


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = addressed_text(update, context)
    if text is None:
        return
    msg, user = update.effective_message, update.effective_user
    lang = user_lang(update, text)
    svc = service(context)
    if not await gate(update, context, lang):
        return
    history = await svc.run(svc.state.begin, msg.chat.id, user.id if user else msg.chat.id)
    if history is None:
        await send(msg, phrase("rate_limited", lang))
        return
    draft: list[Message] = []
    try:
        async with typing(update, context):
            if svc.can_stream():
                answer = await svc.ask_streaming(text, history, Drafter(msg, draft).update)
            else:
                answer = await svc.ask(text, history)
    except QuestionError:
        await send(msg, phrase("empty", lang))
        return
    except Exception:
        log.exception("answering failed in chat %s", msg.chat.id)
        await send(msg, phrase("error", lang))
        return
    await svc.run(svc.state.remember, msg.chat.id, answer.turn)
    markup = None if answer.abstained else answer_buttons(lang)
    texts = format_answer(answer, lang)
    if draft:  # the streamed draft becomes the first message of the final answer
        await draft[0].edit_text(texts[0], parse_mode=ParseMode.HTML, reply_markup=markup if len(texts) == 1 else None)
        sent = await send_all(msg, texts[1:], markup) if len(texts) > 1 else draft[0]
    else:
        sent = await send_all(msg, texts, markup)
    if sent is not None and answer.question != msg.text:  # else the buttons find the question the answer replies to
        await svc.run(svc.state.answered, msg.chat.id, sent.message_id, answer.question)


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice…: in a private chat, ask for a text question."""
    if update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
        await send(update.effective_message, phrase("empty", user_lang(update)))


async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An uploaded article file (admins only)."""
    msg, user = update.effective_message, update.effective_user
    lang = user_lang(update, msg.caption)
    svc = service(context)
    if msg.chat.type != ChatType.PRIVATE and not svc.is_admin(user.id if user else None):
        return  # files shared in groups are not meant for the bot
    if not svc.is_admin(user.id if user else None):
        await send(msg, phrase("admin_only", lang))
        return
    doc = msg.document
    problem = svc.upload_problem(doc.file_name or "", doc.file_size)
    if problem:
        await send(msg, phrase(problem[0], lang, **problem[1]))
        return
    async with typing(update, context):
        tg_file = await doc.get_file()
        data = bytes(await tg_file.download_as_bytearray())
        if len(data) > svc.settings.bot_max_upload_bytes:
            await send(msg, phrase("too_big", lang, limit=svc.settings.bot_max_upload_bytes))
            return
        report = await svc.ingest_file(doc.file_name, data)
    if report.errors and not (report.added or report.replaced or report.unchanged):
        await send(msg, phrase("ingest_failed", lang, errors="; ".join(report.errors)[:3000]))
    else:
        await send(msg, phrase("ingested", lang, summary=report.summary()))


# --- buttons -------------------------------------------------------------------------
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer()
    data = query.data or ""
    msg = query.message
    lang = user_lang(update)
    svc = service(context)
    if data.startswith("s:"):
        docs = await svc.run(svc.sanad.sources)
        page = int(data[2:]) if data[2:].isdigit() else 0
        text, pages = format_sources(docs, page, SOURCES_PER_PAGE, lang)
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=source_buttons(page, pages, lang))
        return
    asked = await svc.run(svc.state.question_of, msg.chat.id, msg.message_id)
    if asked is None and msg.reply_to_message is not None:
        asked = msg.reply_to_message.text  # after a restart: the question the answer replied to
    if not asked:
        await send(msg, phrase("no_passages", lang))
        return
    lang = lang_of(asked)
    try:
        if data == "p":
            answer = await svc.run(svc.sanad.ask, asked)
            await send_all(msg, format_passages(await svc.passages(answer), lang))
        elif data == "m":
            answer = await svc.run(svc.sanad.ask, asked)
            await send_all(msg, format_related(answer, lang))
    except Exception:
        log.exception("button %r failed", data)
        await send(msg, phrase("error", lang))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every unexpected error is logged (secrets redacted by the log filter); the user gets
    a short apology, never a stack trace."""
    log.error("unhandled error", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        with contextlib.suppress(Exception):
            await update.effective_message.reply_text(phrase("error", user_lang(update)))
