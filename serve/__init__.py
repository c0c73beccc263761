"""``sanad serve``: Sanad over HTTP (serve/app.py), beside the bot, over the same ``rag.Sanad``."""
