"""Sanad's one typed settings object: defaults in ``config/defaults.toml``,
an optional TOML file named by ``SANAD_CONFIG``, then ``SANAD_*`` environment variables.

Importing it also turns onnxruntime's telemetry off for the process: onnxruntime reads
``ORT_DISABLE_TELEMETRY`` when it is first imported (its Python switch afterwards is not
enough), and every package of Sanad imports ``config`` before anything that loads it."""

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # nothing is written outside SANAD_HOME and the cache dir


from config.settings import DEFAULTS_FILE, MODELS_EXTRA, SEEDS_DIR, Settings, load_settings, needs_models

__all__ = ["DEFAULTS_FILE", "MODELS_EXTRA", "SEEDS_DIR", "Settings", "load_settings", "needs_models"]
