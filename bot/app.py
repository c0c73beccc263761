"""The one place the Telegram ``Application`` is built and run."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import handlers
from bot.phrases import COMMANDS_AR
from bot.service import BotService
from config import Settings

log = logging.getLogger(__name__)


class TokenMissing(RuntimeError):
    pass


class Unreachable(RuntimeError):
    """The Bot API did not answer at start-up (after the configured tries)."""


def reach(settings: Settings) -> None:
    """Ask the Bot API who we are, ``telegram_connect_tries`` times with a doubling wait
    (1, 2, 4 ... s); raise ``Unreachable`` naming the URL when it never answers. A rejected
    token raises telegram's ``InvalidToken`` at once."""
    import time

    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError

    async def get_me():
        async with Bot(settings.telegram_token.get_secret_value(), base_url=settings.telegram_base_url) as bot:
            await bot.get_me()

    tries = settings.telegram_connect_tries
    for attempt in range(1, tries + 1):
        try:
            asyncio.run(get_me())
            return
        except InvalidToken:
            raise
        except NetworkError as exc:
            if attempt == tries:
                raise Unreachable(f"cannot reach Telegram's Bot API at {settings.telegram_base_url} after {tries} "
                                  f"tries ({type(exc).__name__}: {exc}); check the network or "
                                  "SANAD_TELEGRAM_BASE_URL") from None
            wait = 2 ** (attempt - 1)
            log.warning("the Bot API at %s did not answer (%s); trying again in %d s", settings.telegram_base_url,
                        type(exc).__name__, wait)
            time.sleep(wait)


async def _follow_loop(svc: BotService, every: float) -> None:
    """Poll the followed feeds every ``every`` seconds while the bot runs. What was seen is in
    the store, so a restarted bot (or several bot processes) carries on without re-ingesting."""
    while True:
        try:
            await svc.poll_feeds()
        except Exception:  # a store or network failure: logged, tried again at the next poll
            log.exception("feed poll failed")
        await asyncio.sleep(every)


async def _post_init(app: Application) -> None:
    await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS_AR])
    svc: BotService = app.bot_data["service"]
    if svc.settings.follow_in_bot:
        app.bot_data["follow_task"] = asyncio.create_task(_follow_loop(svc, svc.settings.follow_every))


async def _post_shutdown(app: Application) -> None:
    task = app.bot_data.pop("follow_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    svc = app.bot_data.get("service")
    if svc is not None:
        svc.close()


def build_application(svc: BotService, settings: Settings | None = None) -> Application:
    settings = settings or svc.settings
    token = settings.telegram_token.get_secret_value()
    if not token:
        raise TokenMissing("set the bot token in the environment variable TELEGRAM_BOT_TOKEN (from @BotFather)")
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(True)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data["service"] = svc
    app.add_handler(CommandHandler("start", handlers.start))
    app.add_handler(CommandHandler("help", handlers.help_command))
    app.add_handler(CommandHandler("sources", handlers.sources))
    app.add_handler(CommandHandler("stats", handlers.stats))
    app.add_handler(CommandHandler("reset", handlers.reset))
    app.add_handler(CommandHandler("ingest", handlers.ingest_reply))
    app.add_handler(CommandHandler("follow", handlers.follow))
    app.add_handler(CommandHandler("unfollow", handlers.unfollow))
    app.add_handler(CommandHandler("feeds", handlers.feeds))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, handlers.question))
    app.add_handler(MessageHandler(filters.Document.ALL, handlers.document))
    app.add_handler(MessageHandler(~filters.TEXT & ~filters.Document.ALL & ~filters.StatusUpdate.ALL, handlers.not_text))
    app.add_handler(CallbackQueryHandler(handlers.button))
    app.add_error_handler(handlers.on_error)
    return app


def run(settings: Settings, webhook: bool = False) -> None:
    """Run the bot until interrupted: long polling, or a webhook server."""
    from rag import Sanad

    sanad = Sanad(settings)
    sanad.ensure_ready()
    app = build_application(BotService(sanad, settings), settings)
    reach(settings)
    if not webhook:
        log.warning("bot running with long polling")
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
        return
    if not settings.webhook_url:
        raise RuntimeError("--webhook needs SANAD_WEBHOOK_URL (the public https URL Telegram posts to)")
    secret = settings.webhook_secret.get_secret_value() or None
    if not secret:
        raise RuntimeError("--webhook needs SANAD_WEBHOOK_SECRET, checked against Telegram's secret-token header")
    log.warning("bot running with a webhook on %s:%s/%s", settings.webhook_listen, settings.webhook_port, settings.webhook_path)
    app.run_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=settings.webhook_path,
        webhook_url=settings.webhook_url,
        secret_token=secret,
        allowed_updates=Update.ALL_TYPES,
    )
