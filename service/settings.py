"""The one place for settings (environment variables prefixed MIAOPI_, or a .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from extractors.options import ExtractOptions

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

    # documents (extractors.options.ExtractOptions)
    ocr_backend: str = Field(
        default="rapidocr", description="rapidocr (default) or paddleocr (extra 'paddle')"
    )
    ocr_threads: int = Field(default=2, ge=1, le=64)
    document_max_bytes: int = Field(default=30 * 2**20, ge=1)
    document_max_pages: int = Field(default=20, ge=1)
    document_max_pixels: int = Field(default=80_000_000, ge=1)
    document_min_side_px: int = Field(default=400, ge=1)
    page_timeout_s: float = Field(default=20.0, gt=0)
    render_dpi: int = Field(default=200, ge=72, le=600)

    # the service
    files_dir: Path = Field(default=Path("var/files"), description="uploaded files, stored by content hash")
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="address printed in result documents' QR codes"
    )
    lease_seconds: float = Field(default=120.0, gt=0, description="a worker's hold on a case it decides")
    max_attempts: int = Field(default=3, ge=1, le=20, description="tries before a case goes to a person")
    engine_processes: int = Field(
        default=1, ge=1, le=16, description="rule-engine processes answering /api/v1/decide"
    )
    engine_max_pending: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="/api/v1/decide requests admitted at once (in the engine or waiting for it); "
        "beyond it the answer is 503 with Retry-After",
    )
    engine_max_batch: int = Field(
        default=16, ge=1, le=1000, description="cases sent to an engine process in one round trip"
    )
    ruleset_cache_s: float = Field(
        default=2.0, ge=0, le=300, description="how long the request path caches the published versions"
    )
    token_cache_s: float = Field(
        default=2.0,
        ge=0,
        le=300,
        description="how long /api/v1/decide remembers the user of an API token (0: look up every time)",
    )
    worker_poll_s: float = Field(default=0.5, gt=0, description="how often an idle worker looks for work")
    claim_idle_minutes: float = Field(
        default=30.0, gt=0, description="after this long idle, a claim may be taken over (AB岗)"
    )
    post_check_rate: float = Field(
        default=0.2, ge=0, le=1, description="share of cases approved on commitment sent to 事后核查"
    )
    post_check_days: int = Field(default=20, ge=1, le=365, description="working days for a post-check")
    web_secret: str | None = Field(
        default=None,
        description="key signing the approvers' sign-in cookies (default: a random key per start)",
    )
    web_session_hours: float = Field(default=8.0, gt=0, le=72, description="how long a sign-in lasts")
    token_days: float = Field(default=180.0, gt=0, le=3650, description="how long an API token is valid")
    sign_in_failures: int = Field(
        default=5, ge=1, le=100, description="wrong passwords per account (and 4x per address) before a pause"
    )
    sign_in_pause_s: float = Field(default=900.0, ge=1, description="how long sign-in stays refused then")
    max_upload_bytes: int = Field(default=64 * 2**20, ge=1, description="one submission, all files")
    max_json_bytes: int = Field(
        default=2**20, ge=1024, description="a request body other than a multipart upload (JSON, forms)"
    )
    max_json_values: int = Field(
        default=10_000,
        ge=100,
        description="values of a JSON body, counted on its text before it is decoded (arrays, objects "
        "and the commas between their items; service/jsontext.py)",
    )
    max_large_bodies: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="JSON bodies over 64 KiB read and decoded at once; others wait their turn unread "
        "(api/limits.py)",
    )

    def extract_options(self) -> ExtractOptions:
        return ExtractOptions(
            max_bytes=self.document_max_bytes,
            max_pages=self.document_max_pages,
            max_pixels=self.document_max_pixels,
            min_side_px=self.document_min_side_px,
            page_timeout_s=self.page_timeout_s,
            render_dpi=self.render_dpi,
            ocr_backend=self.ocr_backend,
            ocr_threads=self.ocr_threads,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
