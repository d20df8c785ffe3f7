"""Helpers for the service tests: users of every role, sample cases, submissions, the worker."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from service.cases import Upload, submit_case
from service.container import Services, create_services
from service.rulesets import seed_rulesets
from service.settings import Settings
from service.transactions import utcnow
from service.users import Subject, add_user, bind_subject, subject_for
from store.records import User

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DEED_TAX_DEPT = "国家税务总局成都市税务局"
DEED_TAX_VERSION = str(
    yaml.safe_load((ROOT / "rulesets" / "deed-tax" / "ruleset.yaml").read_text(encoding="utf-8"))["version"]
)
"""The deed-tax version shipped in rulesets/ (the one published on first start)."""
PERMIT_DEPT = "四川省住房和城乡建设厅"
SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)
"""Rulesets are published as of this instant, so cases may be received at any later (injected) time."""

ROLES = ("applicant", "approver", "rule_author", "auditor", "admin")

AGENT_ID = "510104199105060117"
"""The person who acts for an enterprise the registry does not know (as its authorised agent)."""
SUBJECTS = {"applicant": "dt-01-only-home-small", "applicant2": "sp-01-general-grade1-clean"}
"""The sample case whose applicant each applicant account is bound to when it is made; `bind` (and so
`submit`) binds it to another case's applicant."""

# user id -> (role, department)
USERS: dict[str, tuple[str, str | None]] = {
    "applicant": ("applicant", None),
    "applicant2": ("applicant", None),
    "approver": ("approver", DEED_TAX_DEPT),
    "approver_b": ("approver", DEED_TAX_DEPT),
    "approver_sp": ("approver", PERMIT_DEPT),
    "rule_author": ("rule_author", None),
    "auditor": ("auditor", None),
    "admin": ("admin", None),
}


def token_of(user_id: str) -> str:
    return f"token-{user_id}"


def auth(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_of(user_id)}"}


@dataclass
class Env:
    settings: Settings
    services: Services
    users: dict[str, User] = field(default_factory=dict)


def make_env(settings: Settings) -> Env:
    from store.loader import load_directory

    services = create_services(settings)
    load_directory(services.engine, SAMPLES / "shared-data")
    seed_rulesets(services, now=SEEDED_AT)
    env = Env(settings=settings, services=services)
    for user_id, (role, dept) in USERS.items():
        subject = subject_of(services, sample(SUBJECTS[user_id])) if user_id in SUBJECTS else None
        user, _ = add_user(
            services,
            user_id=user_id,
            display_name=user_id,
            role=role,
            department=dept,
            password=None,
            token=token_of(user_id),
            subject=subject,
            now=utcnow(),  # tokens expire (settings.token_days) from when they are issued
        )
        env.users[user_id] = user
    return env


def open_env(settings: Settings) -> Env:
    """Services on a database made by make_env (a copy of it), with its users."""
    services = create_services(settings)
    env = Env(settings=settings, services=services)
    with services.sessions() as session:
        for user_id in USERS:
            user = session.get(User, user_id)
            assert user is not None
            env.users[user_id] = user
    return env


def subject_of(services: Services, data: dict[str, Any]) -> Subject:
    """The subject of a case's applicant; an enterprise acts through its registered 法定代表人, or
    through an agent when the registry does not know it."""
    applicant = data["applicant"]
    if applicant["kind"] == "person":
        return subject_for(services, subject_id=applicant["id_number"])
    code = applicant["credit_code"]
    with services.registry.reading():
        rows = services.registry.find("enterprises", {"credit_code": [code]})
    rep = rows[0]["legal_rep_id_number"] if rows and rows[0]["legal_rep_id_number"] else None
    return subject_for(services, subject_id=code, acting_id=rep or AGENT_ID, agent=rep is None)


def bind(env: Env, user: str, data: dict[str, Any]) -> None:
    """Bind an applicant account to the applicant of `data` (a case's JSON), as a person who submits
    their own case would be; staff accounts are left as they are."""
    if env.users[user].role != "applicant":
        return
    subject = subject_of(env.services, data)
    current = env.users[user]
    if (current.subject_kind, current.subject_id) == (subject.kind, subject.subject_id):
        return
    env.users[user] = bind_subject(env.services, user_id=user, subject=subject, now=utcnow())


def item_of(case_name: str) -> str:
    return {"dt-": "deed-tax", "gh-": "graduate-hukou"}.get(case_name[:3], "safety-permit-renewal")


def case_file(case_name: str) -> Path:
    return SAMPLES / item_of(case_name) / "cases" / f"{case_name}.json"


def sample(case_name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(case_file(case_name).read_text(encoding="utf-8"))
    return data


def expected(case_name: str) -> dict[str, Any]:
    table: dict[str, Any] = json.loads((SAMPLES / item_of(case_name) / "expected.json").read_text("utf-8"))
    return dict(table[case_name])


def submitted_at(data: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(data["submitted_at"])


def uploads_for(case_name: str, data: dict[str, Any]) -> list[Upload]:
    folder = case_file(case_name).parent
    return [Upload.of_bytes(d["path"], (folder / d["path"]).read_bytes()) for d in data["documents"]]


def submit(
    env: Env,
    case_name: str,
    *,
    case_id: str | None = None,
    user: str = "applicant",
    now: datetime | None = None,
    key: str | None = None,
) -> str:
    """Record a sample case through the use case, received at its own submission time by default."""
    data = sample(case_name)
    if case_id is not None:
        data["case_id"] = case_id
    bind(env, user, data)
    row, created = submit_case(
        env.services,
        user=env.users[user],
        data=data,
        uploads=uploads_for(case_name, data),
        idempotency_key=key,
        now=now or submitted_at(data),
    )
    assert created
    return row.id


def post_multipart(
    client: TestClient,
    case_name: str,
    *,
    user: str = "applicant",
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    data = data or sample(case_name)
    folder = case_file(case_name).parent
    files = [("files", (d["path"], (folder / d["path"]).read_bytes())) for d in data["documents"]]
    return client.post(
        "/api/v1/cases/multipart",
        data={"case": json.dumps(data, ensure_ascii=False)},
        files=files or None,
        headers={**auth(user), **(headers or {})},
    )


def decide_all(env: Env) -> int:
    """Run the in-process worker until nothing is left."""
    from miaopi.worker import run_worker

    return run_worker(env.settings, idle_exit=True)
