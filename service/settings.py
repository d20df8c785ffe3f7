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
    registries_dir: Path | None = Field(
        default=None,
        description="folder of further shared-data registry declarations (<name>.yaml), read at start "
        "besides the built-in registries/ folder and each item folder's registries/",
    )
    log_level: str = Field(default="WARNING", description="DEBUG, INFO, WARNING or ERROR (logs go to stderr)")

    # documents (extractors.options.ExtractOptions)
    ocr_backend: str = Field(
        default="rapidocr", description="rapidocr (default) or paddleocr (extra 'paddle')"
    )
    ocr_threads: int = Field(default=2, ge=1, le=64, description="threads one OCR process uses")
    document_max_bytes: int = Field(default=30 * 2**20, ge=1, description="one document file, in bytes")
    document_max_pages: int = Field(default=20, ge=1, description="pages read of one document")
    document_max_pixels: int = Field(
        default=80_000_000, ge=1, description="pixels of one page image (larger images are refused)"
    )
    document_min_side_px: int = Field(
        default=400, ge=1, description="shorter side of a page image below which it is unreadable"
    )
    page_timeout_s: float = Field(
        default=20.0, gt=0, description="OCR time for one page before it is given up"
    )
    render_dpi: int = Field(
        default=200, ge=72, le=600, description="resolution scanned PDF pages are rendered at"
    )

    # the service
    files_dir: Path = Field(default=Path("var/files"), description="uploaded files, stored by content hash")
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the address applicants reach the server at (the public https address behind a "
        "proxy): the verification link and QR code of every result document point to it",
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
    follow_up_days: int = Field(
        default=5,
        ge=1,
        le=365,
        description="working days for the follow-up of a bad 好差评 rating (不满意, 非常不满意)",
    )
    web_secret: str | None = Field(
        default=None,
        description="key signing the approvers' sign-in cookies (default: a random key per start)",
        json_schema_extra={"secret": True},
    )
    audit_key: str | None = Field(
        default=None,
        min_length=32,
        repr=False,
        json_schema_extra={"secret": True},
        description="key signing the audit trail's head and checkpoints (HMAC-SHA256), kept outside the "
        "database; a deployment sets it. Unset: a key generated on first start and kept in "
        "MIAOPI_FILES_DIR/audit.key, with a warning at every start (for the demo and tests)",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="JSON-lines file that every audit checkpoint is appended to, outside the database "
        "(default: MIAOPI_FILES_DIR/audit-checkpoints.jsonl); copy it off the machine",
    )
    audit_checkpoint_s: float = Field(
        default=300.0,
        ge=0,
        description="how often a worker records an audit checkpoint (0: never; then run "
        "`miaopi audit checkpoint` from cron)",
    )
    web_session_hours: float = Field(default=8.0, gt=0, le=72, description="how long a sign-in lasts")
    token_days: float = Field(default=180.0, gt=0, le=3650, description="how long an API token is valid")
    sign_in_failures: int = Field(
        default=5, ge=1, le=100, description="wrong passwords per account (and 4x per address) before a pause"
    )
    sign_in_pause_s: float = Field(default=900.0, ge=1, description="how long sign-in stays refused then")
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="proxies (comma-separated addresses or networks, * for any) whose X-Forwarded-For is "
        "taken as the client's address, for sign-in throttling per address and the logs",
    )
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


def _shown_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Path) and value.is_absolute():
        try:
            return f"(checkout)/{value.relative_to(PROJECT_ROOT).as_posix()}"
        except ValueError:
            return value.as_posix()
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2**20 and value % 2**20 == 0:
        return f"{value} ({value // 2**20} MiB)"
    return str(value)


def reference() -> list[tuple[str, str, str]]:
    """Every setting: its environment variable, its default as shown to an operator, its meaning."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return [
        ((prefix + name).upper(), _shown_default(field.default), field.description or "")
        for name, field in Settings.model_fields.items()
    ]


def effective(settings: Settings) -> list[tuple[str, str, str]]:
    """Every setting with the value in force (secrets shown only as set or unset) and its default."""
    rows = []
    for (var, default, _meaning), (name, field) in zip(
        reference(), Settings.model_fields.items(), strict=True
    ):
        value = getattr(settings, name)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        shown = ("set" if value else "unset") if extra.get("secret") else _shown_default(value)
        if name == "database_url":  # a password in the URL is not printed
            from sqlalchemy.engine import make_url

            shown = make_url(value).render_as_string(hide_password=True)
        rows.append((var, shown, default))
    return rows


def reference_markdown() -> str:
    """The settings as the README's Markdown table (kept equal to it by a test)."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{var}` | `{default}` | {meaning} |" for var, default, meaning in reference()]
    return "\n".join(lines) + "\n"
