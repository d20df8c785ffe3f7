"""The one place for settings (environment variables prefixed MIAOPI_, or a .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MIAOPI_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/miaopi.db",
        description="SQLAlchemy URL (default: embedded SQLite, relative to the working directory)",
    )
    rulesets_dir: Path = Field(
        default=PROJECT_ROOT / "rulesets", description="folder with one folder per item"
    )
    samples_dir: Path = Field(default=PROJECT_ROOT / "samples", description="sample cases and shared data")
    log_level: str = "WARNING"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
