"""One settings object, read once at startup: environment > `.env` > defaults.

Nothing else in Steward reads the environment. A wrong or missing value stops startup with a
`ConfigError` that names the variable and shows a valid example, and secrets are `SecretStr` so
they never print in logs or error bodies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ALL_SERVICES = ("events", "memory", "planner", "scheduler", "observer", "chat", "sync", "llm", "items")


class LlmPrice(BaseModel):
    """USD per million tokens."""

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)


DEFAULT_LLM_PRICES = {
    "gpt-4o-mini": LlmPrice(prompt=0.15, completion=0.60),
    "gpt-4o": LlmPrice(prompt=2.50, completion=10.00),
    "gpt-4.1-nano": LlmPrice(prompt=0.10, completion=0.40),
    "gpt-4.1-mini": LlmPrice(prompt=0.40, completion=1.60),
    "gpt-4.1": LlmPrice(prompt=2.00, completion=8.00),
}


class ConfigError(Exception):
    """Startup configuration is invalid; the message says which variable and how to fix it."""


def _example(value: str) -> Any:
    return {"example": value}


class Settings(BaseSettings):
    """Every setting Steward reads, with its environment variable name and default."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # HTTP
    steward_host: str = Field("127.0.0.1", json_schema_extra=_example("0.0.0.0"))
    steward_port: int = Field(8090, ge=1, le=65535, json_schema_extra=_example("8090"))
    steward_services: str = Field("all", json_schema_extra=_example("memory,planner"))
    steward_data_dir: Path = Field(Path("var"), json_schema_extra=_example("/var/lib/steward"))
    steward_max_body_bytes: int = Field(1_048_576, ge=1024, json_schema_extra=_example("1048576"))
    steward_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", json_schema_extra=_example("INFO"))
    steward_idempotency_ttl_hours: int = Field(48, ge=1, json_schema_extra=_example("48"))
    steward_first_run_key: bool = Field(True, json_schema_extra=_example("true"))
    steward_public_url: str = Field("", json_schema_extra=_example("https://steward.example.com"))
    # Invalid API keys one remote address may present per window (flask-limiter syntax) before it
    # gets 429 for every request until the window lets it through again.
    steward_auth_fail_limit: str = Field("20/minute", min_length=3, json_schema_extra=_example("20/minute"))

    # Postgres (source of truth). Unset: embedded PostgreSQL in <data_dir>/pg.
    database_url: SecretStr | None = Field(
        None, json_schema_extra=_example("postgresql://steward:secret@127.0.0.1:5432/steward")
    )
    database_pool_size: int = Field(10, ge=1, le=200, json_schema_extra=_example("10"))
    # How long a request waits for a connection (Postgres restarting, or every connection busy)
    # before it gets 503 database_unavailable with Retry-After.
    database_pool_timeout_seconds: float = Field(10.0, gt=0, le=300, json_schema_extra=_example("10"))

    # Vectors. Unset: Qdrant Edge on disk in <data_dir>/qdrant.
    qdrant_url: str | None = Field(None, json_schema_extra=_example("http://127.0.0.1:6333"))
    qdrant_api_key: SecretStr | None = Field(None, json_schema_extra=_example("qdrant-key"))

    # Cache. Unset: in-process TTL cache.
    redis_url: SecretStr | None = Field(None, json_schema_extra=_example("redis://127.0.0.1:6379/0"))
    cache_ttl_seconds: int = Field(300, ge=1, json_schema_extra=_example("300"))

    # Embeddings. Unset base URL: the offline local model.
    embeddings_base_url: str | None = Field(None, json_schema_extra=_example("https://api.openai.com/v1"))
    embeddings_api_key: SecretStr | None = Field(None, json_schema_extra=_example("sk-..."))
    embeddings_model: str = Field("all-MiniLM-L6-v2", json_schema_extra=_example("text-embedding-3-small"))
    embeddings_dimension: int = Field(384, ge=8, le=8192, json_schema_extra=_example("1536"))

    # LLM. Unset base URL: each feature's offline behaviour.
    llm_base_url: str | None = Field(None, json_schema_extra=_example("https://api.openai.com/v1"))
    llm_api_key: SecretStr | None = Field(None, json_schema_extra=_example("sk-..."))
    llm_model: str = Field("gpt-4o-mini", json_schema_extra=_example("gpt-4o-mini"))
    llm_model_fast: str = Field("", json_schema_extra=_example("gpt-4o-mini"))
    llm_timeout_seconds: float = Field(30.0, gt=0, le=600, json_schema_extra=_example("30"))
    llm_daily_budget_usd: float = Field(
        5.0, ge=0, description="Spend per UTC day; 0 means no limit", json_schema_extra=_example("5.0")
    )
    # USD per million tokens, by model name; a model not listed is recorded as unpriced (cost 0).
    llm_prices: dict[str, LlmPrice] = Field(
        default_factory=lambda: dict(DEFAULT_LLM_PRICES),
        json_schema_extra=_example('{"gpt-4o-mini": {"prompt": 0.15, "completion": 0.6}}'),
    )
    llm_cache_ttl_seconds: int = Field(86_400, ge=0, description="0 disables", json_schema_extra=_example("86400"))
    llm_max_retries: int = Field(3, ge=0, le=10, json_schema_extra=_example("3"))
    llm_retry_max_wait_seconds: float = Field(20.0, ge=0, json_schema_extra=_example("20"))
    llm_response_format: Literal["json_schema", "json_object"] = Field(
        "json_schema", json_schema_extra=_example("json_object")
    )

    # Backups (`steward backup`): where archives go (unset: <data_dir>/backups), how many to keep,
    # and an optional Fernet key (comma-separated list to rotate: the first encrypts, all decrypt).
    steward_backup_dir: Path | None = Field(None, json_schema_extra=_example("/var/backups/steward"))
    steward_backup_keep: int = Field(7, ge=1, le=1000, json_schema_extra=_example("7"))
    steward_backup_key: SecretStr | None = Field(None, json_schema_extra=_example("output of `steward backup keygen`"))

    # Planner: reuse a stored plan or process template at or above this cosine similarity.
    planner_reuse_threshold: float = Field(0.8, gt=0, le=1, json_schema_extra=_example("0.8"))

    # Scheduler defaults; a request, then recalled preferences, override them per run.
    scheduler_timezone: str = Field("UTC", json_schema_extra=_example("Europe/Berlin"))
    scheduler_workload_limit_minutes: int = Field(480, ge=1, le=1440, json_schema_extra=_example("360"))
    scheduler_max_tasks: int = Field(1000, ge=1, le=100_000, json_schema_extra=_example("1000"))

    # Chat (Telegram through n8n): how long a draft waits for Yes/Edit/No, how long /undo reaches
    # back, the per-chat rate limit (flask-limiter syntax), the most actions one draft may apply,
    # and the confidence at which a low-risk capture is applied directly for users with auto-apply.
    chat_draft_ttl_minutes: int = Field(1440, ge=1, le=43_200, json_schema_extra=_example("1440"))
    chat_undo_window_minutes: int = Field(60, ge=1, le=10_080, json_schema_extra=_example("60"))
    chat_rate_limit: str = Field("20/minute;300/hour", min_length=3, json_schema_extra=_example("20/minute"))
    chat_bulk_limit: int = Field(10, ge=1, le=200, json_schema_extra=_example("10"))
    chat_auto_apply_confidence: float = Field(0.8, gt=0, le=1, json_schema_extra=_example("0.8"))

    @field_validator("scheduler_timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Europe/Berlin") from None
        return value

    @field_validator("steward_auth_fail_limit")
    @classmethod
    def _rate_limit_syntax(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"not a rate limit {value!r}; write it like 20/minute or 20/minute;200/hour") from None
        return value

    @field_validator("steward_services")
    @classmethod
    def _known_services(cls, value: str) -> str:
        names = [s.strip() for s in value.split(",") if s.strip()]
        unknown = [n for n in names if n != "all" and n not in ALL_SERVICES]
        if not names or unknown:
            raise ValueError(f"unknown service(s) {unknown or value!r}; choose from all, {', '.join(ALL_SERVICES)}")
        return value

    @model_validator(mode="after")
    def _openai_embeddings_need_dimension(self) -> Settings:
        if self.embeddings_base_url is None and self.embeddings_model != "all-MiniLM-L6-v2":
            raise ValueError(
                "EMBEDDINGS_MODEL names a remote model but EMBEDDINGS_BASE_URL is unset; set both, "
                "or unset EMBEDDINGS_MODEL to use the offline all-MiniLM-L6-v2"
            )
        return self

    # ---- derived views -------------------------------------------------------------------
    @property
    def services(self) -> tuple[str, ...]:
        names = [s.strip() for s in self.steward_services.split(",") if s.strip()]
        return ALL_SERVICES if "all" in names else tuple(names)

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedding_provider(self) -> Literal["local", "openai"]:
        return "openai" if self.embeddings_base_url else "local"

    @property
    def embedding_dimension(self) -> int:
        return 384 if self.embedding_provider == "local" else self.embeddings_dimension

    @property
    def backup_dir(self) -> Path:
        return self.steward_backup_dir or self.steward_data_dir / "backups"

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once, turning validation errors into one readable `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "(settings)"
            field = Settings.model_fields.get(name.lower())
            extra = field.json_schema_extra if field and isinstance(field.json_schema_extra, dict) else {}
            example = f" (example: {name}={extra['example']})" if "example" in extra else ""
            lines.append(f"{name}: {err['msg']}{example}")
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(lines)) from None
