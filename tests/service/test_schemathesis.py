"""Schemathesis over the OpenAPI schema with every one of its checks, the way `schemathesis run --checks
all` runs them: every phase (the schema's examples, coverage of each parameter's edges and of
unsupported methods, fuzzing with valid and invalid data, stateful sequences that follow the Location
of a new case), as an admin, as an applicant and without a token. Deterministic (a fixed seed, one
worker, no example database, no values of the answers fed back except those the stateful phase links)
and bounded by the number of examples per operation (about a minute on two cores)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.engine import Status, StopReason, events, from_schema
from service_kit import auth, decide_all, make_env, submit

from api.app import create_app
from service.settings import Settings

EXAMPLES = {"admin": 25, "applicant": 12, "none": 8}
"""Examples per operation and phase: the admin reaches every operation's work, the others mostly its
refusals (403, 401), which need fewer."""

DEFAULT_ACCEPTED = ["2xx", "3xx", 401, 403, 404, 409, 429, "5xx"]
"""What positive_data_acceptance accepts by default for a request the schema says is valid (a 5xx is
not_a_server_error's to report)."""
DEFAULT_REFUSED = [400, 401, 403, 404, 405, 406, 409, 415, 422, 428, 429, "5xx"]
"""What negative_data_rejection takes by default for the refusal of a request the schema says is
invalid. A 413 is one too: a body over the size limit (api/limits.py) is refused before it is read,
whatever else is wrong with it, and invalid data can be long (a string past its maxLength)."""

VALID_ONLY_IN_CONTEXT = [
    # The case body's validity depends on the item's ruleset: the fields its form declares and their
    # types, ranges and choices, and the checksums of ID numbers and credit codes, none of which one
    # JSON Schema for every item can say (the schema is the case contract's, engine/case.py). A case
    # that is valid by the contract and refused by its item's ruleset is a 422 listing every problem.
    "POST /api/v1/cases",
    "POST /api/v1/cases/multipart",
    "POST /api/v1/decide",
    # A ruleset is published only if its YAML compiles (and its golden cases pass): a string is valid
    # by the schema, a ruleset rarely.
    "POST /api/v1/rulesets",
    # Likewise a candidate ruleset whose impact is analysed before publishing.
    "POST /api/v1/rulesets/impact",
    # The outcomes a task takes depend on its kind (approve, reject, return for a review; confirm,
    # revoke for a post-check): each is valid by the schema for some task.
    "POST /api/v1/tasks/{task_id}/decide",
]
"""Operations where a request valid by the schema may still be a 422 for what the schema cannot say:
positive_data_acceptance also accepts 422 there, and still fails any other refusal (400, 413, 415)."""


def _config(who: str) -> schemathesis.Config:
    raw: dict[str, Any] = {
        "seed": 20261121,
        "workers": 1,
        "continue-on-failure": True,  # every failure of an operation, not only its first
        "generation": {
            "mode": "all",  # valid and invalid data
            "max-examples": EXAMPLES[who],
            "deterministic": True,
            "database": "none",
        },
        # Values taken from the answers (received_at, system-numbered case ids) are not fed back into
        # the generation of the phases that would otherwise use them: the same requests every run.
        # The stateful phase still follows the Location of each new case.
        "phases": {
            "examples": {"extra-data-sources": {"responses": False}},
            "coverage": {"extra-data-sources": {"responses": False}},
            "fuzzing": {"extra-data-sources": {"responses": False}, "error-feedback": {"enabled": False}},
            "stateful": {"enabled": True},
        },
        # All checks are on by default; max_response_time is off unless given a limit, and stays off:
        # a time limit on a shared two-core machine would make the run depend on the machine's load.
        "checks": {
            "enabled": True,
            "negative_data_rejection": {"expected-statuses": [*DEFAULT_REFUSED, 413]},
        },
        "operations": [
            {
                "include-name": VALID_ONLY_IN_CONTEXT,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*DEFAULT_ACCEPTED, 422]}},
            }
        ],
    }
    if who != "none":
        raw["headers"] = auth(who)
    return schemathesis.Config.from_dict(raw)


@pytest.fixture
def api_app(tmp_path: Path) -> Iterator[Any]:
    env = make_env(Settings(database_url=f"sqlite:///{tmp_path / 'miaopi.db'}", files_dir=tmp_path / "files"))
    for name in ("dt-01-only-home-small", "dt-22-name-mismatch"):
        submit(env, name)
    decide_all(env)
    app = create_app(env.settings, services=env.services)
    with TestClient(app):  # runs the lifespan: the app as it serves
        yield app
    env.services.engine.dispose()


def _exchange(recorder: Any, case_id: str) -> str:
    """The request a check failed on and the answer, for the failure's report."""
    seen = recorder.interactions.get(case_id)
    if seen is None:
        return ""
    request, response = seen.request, seen.response
    sent = f"{request.method} {request.uri} {(request.body or b'')[:300]!r}"
    answer = f"{response.status_code} {response.content[:300]!r}" if response is not None else "no answer"
    return f"\n  {sent}\n  → {answer}"


def _run(app: Any, who: str) -> tuple[list[str], set[str], int]:
    """Run every phase; the failures (each with its request and answer), the checks that ran, and
    the number of requests made."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(who))
    failures: list[str] = []
    ran: set[str] = set()
    requests = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            requests += len(recorder.interactions)
            for case_id, nodes in recorder.checks.items():
                for node in nodes:
                    ran.add(node.name)
                    if node.status == Status.FAILURE and node.failure_info is not None:
                        failure = node.failure_info.failure
                        failures.append(
                            f"[{event.phase.value}] {recorder.label}: {node.name}: {failure.title}: "
                            f"{failure.message[:500]}{_exchange(recorder, case_id)}"
                        )
        elif isinstance(event, events.NonFatalError):
            failures.append(f"error in {event.label}: {event.value!r}"[:2000])
        elif isinstance(event, events.FatalError):
            failures.append(f"fatal: {event.exception!r}"[:2000])
        elif isinstance(event, events.EngineFinished):
            assert event.stop_reason == StopReason.COMPLETED, event.stop_reason
    return failures, ran, requests


@pytest.mark.parametrize("who", list(EXAMPLES))
def test_every_check_on_every_operation_finds_nothing(api_app: Any, who: str) -> None:
    failures, ran, requests = _run(api_app, who)
    assert failures == [], f"{len(failures)} failures as {who}:\n\n" + "\n\n".join(sorted(set(failures)))
    load_all_checks()
    every = set(CHECKS.get_all_names())
    assert ran == every, sorted(every - ran)
    assert requests > 20 * len(api_app.openapi()["paths"])
