"""Sanad's one typed settings object: defaults in ``config/defaults.toml``,
an optional TOML file named by ``SANAD_CONFIG``, then ``SANAD_*`` environment variables."""

from config.settings import DEFAULTS_FILE, SEEDS_DIR, Settings, load_settings

__all__ = ["DEFAULTS_FILE", "SEEDS_DIR", "Settings", "load_settings"]
