"""Helpers for the approvers' pages' tests: a database with the shared data, users of two departments and
sample cases decided by the worker.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from miaopi.worker import run_worker
from service.cases import Upload, submit_case
from service.container import Services, create_services
from service.rulesets import seed_rulesets
from service.settings import PROJECT_ROOT, Settings
from service.transactions import utcnow
from service.users import Subject, add_user, bind_subject, subject_for
from store.loader import load_directory
from store.records import User

CHROMIUM = Path("/usr/bin/chromium")
TAX = "国家税务总局成都市税务局"
CONSTRUCTION = "四川省住房和城乡建设厅"
PASSWORD = "审批-密码-2026"
SAMPLES = PROJECT_ROOT / "samples"

OVERDUE = "dt-22-name-mismatch"
"""Reviewed, no document, submitted weeks ago: a red card."""
WITH_CONTRACT = "dt-44-contract-price-differs"
"""Reviewed because the scanned contract's price differs from the declared one."""
APPROVED = "dt-01-only-home-small"
"""Approved on commitment and sampled for a post-check."""
OTHER_DEPARTMENT = "sp-09-enterprise-name-mismatch"


@dataclass
class WebEnv:
    settings: Settings
    services: Services
    tokens: dict[str, str]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so the browser tests must run")
    pytest.skip(message)


def _case(name: str) -> tuple[dict[str, object], list[Upload]]:
    path = next(SAMPLES.glob(f"*/cases/{name}.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    uploads = [Upload.of_bytes(d["path"], (path.parent / d["path"]).read_bytes()) for d in data["documents"]]
    return data, uploads


def build_env(root: Path, *, cases: list[str]) -> WebEnv:
    """A fresh SQLite database and file store with the shared data, users and the decided `cases`."""
    settings = Settings(
        database_url=f"sqlite:///{root / 'miaopi.db'}",
        files_dir=root / "files",
        web_secret="tests-web-secret",
        post_check_rate=1.0,
        ocr_threads=1,
        public_base_url="http://127.0.0.1",
    )
    services = create_services(settings)
    now = utcnow()
    seed_rulesets(services, now=now - timedelta(days=90))
    load_directory(services.engine, SAMPLES / "shared-data")
    users = [
        ("tax", "王审批", "approver", TAX),
        ("tax2", "李审批", "approver", TAX),
        ("build", "赵审批", "approver", CONSTRUCTION),
        ("citizen", "申请人", "applicant", None),
    ]
    tokens = {}
    for user_id, name, role, department in users:
        _user, tokens[user_id] = add_user(
            services,
            user_id=user_id,
            display_name=name,
            role=role,
            department=department,
            password=PASSWORD,
            now=now,
        )
    with services.sessions() as session:
        applicant = session.get(User, "citizen")
    assert applicant is not None
    for name in cases:
        data, uploads = _case(name)
        received = now - timedelta(days=30) if name == OVERDUE else now
        # the citizen's account acts for each case's applicant in turn (an account submits only the
        # cases of the subject it is bound to)
        applicant = bind_subject(services, user_id="citizen", subject=_subject(services, data), now=now)
        submit_case(
            services, user=applicant, data=data, uploads=uploads, idempotency_key=None, now=received
        )
    assert run_worker(settings, idle_exit=True) == len(cases)
    return WebEnv(settings=settings, services=services, tokens=tokens)


def _subject(services: Services, data: dict[str, Any]) -> Subject:
    """A case's applicant as a subject (an enterprise through its registered 法定代表人, or an agent)."""
    applicant = data["applicant"]
    if applicant["kind"] == "person":
        return subject_for(services, subject_id=applicant["id_number"])
    with services.registry.reading():
        rows = services.registry.find("enterprises", {"credit_code": [applicant["credit_code"]]})
    rep = rows[0]["legal_rep_id_number"] if rows else None
    acting = rep or "510104199105060117"  # an agent of an enterprise the registry does not know
    return subject_for(services, subject_id=applicant["credit_code"], acting_id=acting, agent=rep is None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
