"""The one settings object. Built by an entry point (CLI, app, tests) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
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
        None, description="SQLAlchemy URL; default: a SQLite file in the workspace."
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset = embedded Chroma in the workspace."
    )
    chroma_port: int = Field(8000, ge=1, le=65535)
    text_model: str | None = Field(
        None,
        description="Path of a sentence-transformers model; default: the bundled MiniLM.",
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

    @model_validator(mode="after")
    def _llm_settings_complete(self) -> "Settings":
        if self.llm_base_url and not self.llm_model:
            raise ValueError("MARQUEE_LLM_BASE_URL is set but MARQUEE_LLM_MODEL is not")
        return self

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.workspace / 'marquee.db'}"
