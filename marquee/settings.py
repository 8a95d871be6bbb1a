"""The one settings object. Built by an entry point (CLI, app, tests) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_CATALOG = REPO_ROOT / "data" / "demo"


class Settings(BaseSettings):
    """Every knob of Marquee. Each field can be set by an environment variable ``MARQUEE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MARQUEE_", extra="ignore")

    workspace: Path = Field(
        REPO_ROOT / "workspace",
        description="Folder holding the vector store, the database and model caches.",
    )
    catalog: Path = Field(
        DEMO_CATALOG, description="Catalog folder in Marquee's format (items.jsonl + ratings.csv)."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/marquee; default: a SQLite file "
        "in the workspace.",
    )
    database_auto_upgrade: bool = Field(
        True,
        description="Migrate the database schema at start-up (one process at a time). False: run "
        "`marquee db upgrade` yourself; start-up then refuses an old schema.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL (redis://host:6379/0) for rate limits shared by every worker and replica; "
        "unset: each process counts on its own.",
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset = embedded Chroma in the workspace."
    )
    chroma_port: int = Field(8000, ge=1, le=65535)
    text_model: str | None = Field(
        None,
        description="Path of a sentence-transformers model; default: the bundled MiniLM.",
    )
    demographics_dir: Path | None = Field(
        None,
        description="MovieLens folder with user demographics (ML-100K u.* files, or ML-1M users.dat + ratings) "
        "for cold-start recommendations; not redistributable, so never shipped. Unset: the demographic taste "
        "model (MARQUEE_DEMOGRAPHIC_MODEL) is used.",
    )
    demographic_model: Path | None = Field(
        DEMO_CATALOG / "demographic_taste.npz",
        description="The demographic taste model for cold start when MARQUEE_DEMOGRAPHICS_DIR is unset: the one "
        "shipped in data/demo (aggregates of MovieLens 1M, see data/demo/README.md) by default; \"none\" (or an "
        "empty value) turns cold start from demographics off.",
    )
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout_s: float = Field(20.0, gt=0, le=600)
    llm_max_retries: int = Field(2, ge=0, le=5)
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    n_recommendations: int = Field(5, ge=1, le=20)
    max_utterance_chars: int = Field(2000, ge=10)
    # --- web server, HTTP API and widget (marquee/web.py, marquee/security.py) ---
    workers: int = Field(
        1, ge=1, le=64,
        description="Uvicorn worker processes. More than 1 needs a Chroma server (MARQUEE_CHROMA_HOST) and "
        "PostgreSQL (MARQUEE_DATABASE_URL); rate limits are shared only with MARQUEE_REDIS_URL.",
    )
    turn_threads: int | None = Field(
        None, ge=1, le=64,
        description="Turns a worker process computes at once; the rest wait their turn in arrival order. "
        "Unset: 2 (a turn is CPU work, and more threads only share one interpreter lock and stretch every "
        "turn: evals/REPORT.md §9), 8 with a language model (a turn mostly waits for it).",
    )
    site_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Site keys for the HTTP API and the widget with the origins each may be used from, '
        'as JSON: {"key": ["https://shop.example"]}. An origin may end in ":*" (any port). '
        'Empty: only the key "demo", from http://localhost:* and http://127.0.0.1:*.',
    )
    ui_auth: str | None = Field(None, description='"user:password": the Gradio UI asks for this login.')
    ui_secret: SecretStr | None = Field(
        None,
        description="Key that signs each browser's credential for its UI conversation (at least 16 characters). "
        "Unset: generated once and kept in <workspace>/ui_secret, so conversations survive a restart. "
        "Never sent to browsers; every replica must share it.",
    )
    rate_limit_new_users_per_min: int = Field(
        10, ge=0, description="Anonymous users (browser conversations) a client IP may start per minute; 0 = no limit."
    )
    http_header_timeout_s: float = Field(
        10.0, gt=0, le=600, description="A connection that has not sent a request's headers in this time is closed."
    )
    http_keep_alive_s: int = Field(5, ge=1, le=600, description="Idle keep-alive connections are closed after this.")
    rate_limit_key_per_min: int = Field(
        1200, ge=0, description="API requests per minute per site key (bursts up to this many); 0 = no limit."
    )
    rate_limit_ip_per_min: int = Field(
        120, ge=0, description="API requests per minute per client IP (bursts up to this many); 0 = no limit."
    )
    max_body_bytes: int = Field(16_384, ge=256, le=10_000_000, description="Largest API request body accepted.")
    max_picture_body_bytes: int = Field(
        8_000_000, ge=0, le=30_000_000,
        description="Largest body of a message that may carry a picture (base64 adds a third); 0: pictures "
        "obey max_body_bytes like every other body.",
    )

    # --- images and other modalities (retrieval/MULTIMODAL.md) ---
    image_encoder: Literal["poster", "clip", "none"] = Field(
        "poster",
        description='How posters are embedded: "poster" (a small CNN trained on the catalog\'s own posters, '
        'on the CPU, cached in the workspace), "clip" (CLIP weights from MARQUEE_CLIP_MODEL) or "none" '
        "(no image collection). Without any image, nothing is built either way.",
    )
    clip_model: Path | None = Field(
        None, description="Local CLIP model folder (transformers or sentence-transformers layout); never downloaded."
    )
    image_folder: Path | None = Field(
        None,
        description="Folder of posters named <item id>.jpg|.png|.webp|...; items' own `image` paths are read "
        "too (relative to the catalog folder). Only these two folders are read.",
    )
    vector_files: list[Path] = Field(
        default_factory=list,
        description='Precomputed per-item vectors (.npz, .npy + .ids.txt, .parquet), as a JSON list: '
        '["audio.npz"]. Each becomes the collection items_<file stem>.',
    )
    vector_dims: dict[str, int] = Field(
        default_factory=dict,
        description='Expected width of each precomputed modality, as JSON: {"audio": 128}; a file of another '
        "width is refused.",
    )
    poster_encoder_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the poster encoder's training config (retrieval.poster_encoder."
        'PosterEncoderConfig), as JSON: {"epochs": 10}.',
    )
    # Weight of the image score in general ranking: (1 - w) * text + w * image, on z-scores.
    # 0.0 because on ML-1M validation users every weight tried lowered NDCG@10 of a content-only
    # ranker (0.0048 at w=0, 0.0043 at 0.1, 0.0035 at 0.3, 0.0023 at 0.7; `marquee eval
    # multimodal`, seed 7, numbers in retrieval/MULTIMODAL.md). Posters serve explicit visual
    # requests instead (visual_weight).
    image_weight: float = Field(0.0, ge=0.0, le=1.0, description="Image share of relevance in general ranking.")
    # Not measured: a design choice so that the look decides when the user asks for a look.
    visual_weight: float = Field(
        0.8, ge=0.0, le=1.0,
        description='Image share of relevance when the user asks for a look ("a poster like X", a picture).',
    )
    caption_model: str | None = Field(
        None,
        description='Vision model that describes each poster ("describe what you see"), served by the '
        "OpenAI-compatible endpoint of MARQUEE_LLM_BASE_URL (with MARQUEE_LLM_API_KEY and MARQUEE_LLM_TIMEOUT_S). "
        'The captions are embedded with the text encoder into the collection items_caption, which joins '
        'similarity to named titles through MARQUEE_MODALITY_WEIGHTS ({"caption": 0.3}). Unset: no captions.',
    )
    modality_weights: dict[str, float] = Field(
        default_factory=dict,
        description='Share of each precomputed modality in similarity to named titles, as JSON: {"audio": 0.2}. '
        "Default 0 (nothing measured).",
    )

    @field_validator("demographic_model", mode="before")
    @classmethod
    def _demographic_model_off(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in ("", "none", "off") else value

    @model_validator(mode="after")
    def _modality_settings_valid(self) -> "Settings":
        if self.image_encoder == "clip" and self.clip_model is None:
            raise ValueError("MARQUEE_IMAGE_ENCODER=clip needs MARQUEE_CLIP_MODEL (a local CLIP model folder)")
        for name, weight in self.modality_weights.items():
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"MARQUEE_MODALITY_WEIGHTS: the weight of {name!r} must be between 0 and 1")
        if sum(self.modality_weights.values()) + self.image_weight > 1.0:
            raise ValueError("MARQUEE_IMAGE_WEIGHT plus MARQUEE_MODALITY_WEIGHTS must not exceed 1")
        for name, dim in self.vector_dims.items():
            if dim < 1:
                raise ValueError(f"MARQUEE_VECTOR_DIMS: the width of {name!r} must be at least 1")
        return self

    @model_validator(mode="after")
    def _llm_settings_complete(self) -> "Settings":
        if self.llm_base_url and not self.llm_model and not self.caption_model:
            raise ValueError("MARQUEE_LLM_BASE_URL is set but MARQUEE_LLM_MODEL is not")
        if self.caption_model and not self.llm_base_url:
            raise ValueError("MARQUEE_CAPTION_MODEL is set but MARQUEE_LLM_BASE_URL is not: poster captions need "
                             "an OpenAI-compatible endpoint that serves that vision model")
        return self

    @model_validator(mode="after")
    def _web_settings_valid(self) -> "Settings":
        for key, origins in self.site_keys.items():
            if not key.strip() or len(key) > 200:
                raise ValueError("MARQUEE_SITE_KEYS has an empty or over-long key")
            for origin in origins:
                if origin != "*" and not origin.startswith(("http://", "https://")):
                    raise ValueError(
                        f"MARQUEE_SITE_KEYS: origin {origin!r} of key {key!r} must look like https://host[:port]"
                    )
        if self.ui_auth is not None and (":" not in self.ui_auth or self.ui_auth.startswith(":")):
            raise ValueError('MARQUEE_UI_AUTH must be "user:password"')
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("MARQUEE_REDIS_URL must look like redis://host:6379/0")
        if self.ui_secret is not None and len(self.ui_secret.get_secret_value()) < 16:
            raise ValueError("MARQUEE_UI_SECRET must be at least 16 characters")
        return self

    @model_validator(mode="after")
    def _workers_share_services(self) -> "Settings":
        problem = self.shared_services_problem()
        if problem:
            raise ValueError(problem)
        return self

    def shared_services_problem(self) -> str | None:
        """Why ``workers`` processes cannot share this configuration (``None``: they can)."""
        if self.workers <= 1:
            return None
        missing = []
        if self.resolved_database_url.startswith("sqlite"):
            missing.append("MARQUEE_DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST/DB (SQLite serves one process)")
        if not self.chroma_host:
            missing.append("MARQUEE_CHROMA_HOST (a Chroma server, `chroma run --path DIR --port 8000`; the embedded "
                           "Chroma serves one process)")
        if not missing:
            return None
        return f"{self.workers} workers need shared services: set " + " and ".join(missing)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def resolved_turn_threads(self) -> int:
        if self.turn_threads is not None:
            return self.turn_threads
        return 8 if self.llm_enabled else 2

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.workspace / 'marquee.db'}"
