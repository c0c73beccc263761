"""Bot under load: a bounded burst of questions through the real Application and its HTTP
layer against the fake Bot API on 127.0.0.1 (the same one the tests use).

    python -m bench.bot_load [--users 20] [--each 10] [--limit 10]

Prints accepted and rate-limited replies, replies per second and p95 reply latency."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--each", type=int, default=10)
    ap.add_argument("--limit", type=int, default=10, help="questions per user per minute")
    args = ap.parse_args()

    import psutil
    from tests.fake_telegram import FakeTelegram
    from test_bot import TOKEN, RunningBot

    from bot.app import build_application
    from bot.service import BotService
    from config import load_settings
    from rag import Sanad

    home = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    sanad = Sanad(load_settings(home=home / "engine"))
    sanad.ensure_ready()
    sanad.ask("من هو وزير الداخلية الروسي؟")  # warm the model
    fake = FakeTelegram(TOKEN).start()
    settings = load_settings(home=home / "bot", telegram_token=TOKEN, telegram_base_url=fake.base_url,
                             bot_user_rate_per_minute=args.limit)
    questions = ["من هو وزير الداخلية الروسي؟", "من وقع اتفاقية التعاون بين شرطة البلدين؟",
                 "كم تبلغ الطاقة الإنتاجية لمحطة التحلية؟", "من فاز بكأس العالم لكرة القدم؟"]
    sent_at: dict[int, list[float]] = {}
    with RunningBot(build_application(BotService(sanad, settings), settings)):
        rss0 = psutil.Process().memory_info().rss
        t0 = time.perf_counter()
        for i in range(args.each):
            for u in range(args.users):
                fake.message(questions[(i + u) % len(questions)], user_id=1000 + u)
                sent_at.setdefault(1000 + u, []).append(time.perf_counter())
        latencies = []
        for u in range(args.users):
            fake.wait_for("sendMessage", 1000 + u, args.each, timeout=600)
        elapsed = time.perf_counter() - t0
        time.sleep(1)
        rss1 = psutil.Process().memory_info().rss
        total = limited = 0
        for u in range(args.users):
            calls = fake.calls_to("sendMessage", 1000 + u)
            total += len(calls)
            limited += sum("انتظر دقيقة" in c["text"] for c in calls)
        # reply latency: the k-th reply to a user against the k-th question the user sent
        replies: dict[int, list[float]] = {}
        with fake._cond:
            for (method, params), t in zip(fake.calls, fake.call_times):
                if method == "sendMessage":
                    replies.setdefault(params["chat_id"], []).append(t)
        for uid, asked_at in sent_at.items():
            latencies += [(r - a) * 1000 for a, r in zip(asked_at, replies.get(uid, []))]
    fake.stop()
    asked = args.users * args.each
    print(f"questions sent        {asked}")
    print(f"replies               {total} ({limited} rate-limit messages, {total - limited} answers)")
    print(f"lost or duplicated    {asked - total}")
    print(f"burst handled in      {elapsed:.2f} s  ->  {total / elapsed:.1f} replies/s")
    latencies.sort()
    print(f"reply latency         p50 {latencies[len(latencies) // 2]:.0f} ms, p95 {latencies[int(len(latencies) * 0.95)]:.0f} ms")
    print(f"RSS before/after      {rss0 / 2**20:.0f} MB / {rss1 / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
