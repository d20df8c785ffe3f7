"""The evaluation backends beside a backend-neutral program: durable_rules' compiled form is built by
its backend and kept with the program; the pre-check asks the backend's encoder which values it can
compare."""

from __future__ import annotations

import dataclasses
from typing import Any

from engine_kit import pilot
from test_durable_state import REGISTRY, deed_case

from engine import precheck
from engine.backends import durable
from engine.case import validate_form
from engine.evaluate import ReferenceEvaluator, check_all
from engine.facts import gather_facts
from engine.program import CompiledCondition, Program


def test_the_program_holds_no_durable_rules_state() -> None:
    for cls in (Program, CompiledCondition):
        names = {f.name for f in dataclasses.fields(cls)}
        assert not names & {"keys", "durable_name", "durable_rules", "conjunctive", "when_pass", "when_fail"}


def test_the_compiled_rules_are_built_once_and_kept_with_the_program() -> None:
    program = pilot("safety-permit-renewal")
    compiled = durable.rules_for(program)
    assert durable.rules_for(program) is compiled
    assert compiled.rules == program.durable_rules and compiled.keys == program.keys
    assert len(compiled.when_pass) == len(program.conditions)
    for i, cc in enumerate(program.conditions):
        assert (cc.when_pass, cc.when_fail) == (compiled.when_pass[i], compiled.when_fail[i])
        assert (i in compiled.conjunctive) == (durable.alternatives(cc.when_pass) == 1)


class _NoNumbers:
    """An encoder of a backend that cannot compare numbers."""

    as_is = frozenset(("bool", "string"))
    reserved: frozenset[Any] = frozenset()

    def encode(self, value: Any) -> Any:
        if not isinstance(value, str | bool) and value is not None:
            raise TypeError("no numbers here")
        return value


def test_the_pre_check_admits_what_the_backend_encoder_admits() -> None:
    program = pilot("deed-tax")
    case = deed_case(0)
    facts = gather_facts(
        program, case=case, form=validate_form(program.ruleset, case.form), registry=REGISTRY
    )
    production = check_all(program, facts)
    assert production == precheck.check_all(program, facts, durable.ENCODER)
    assert all(ck.evaluable for ck in production)
    strict = precheck.check_all(program, facts, _NoNumbers())
    refused = [ck for ck in strict if ck.problem == "no numbers here"]
    assert refused and all(not ck.evaluable for ck in refused)
    statuses = ReferenceEvaluator().evaluate(program, facts, strict)
    assert [s for s, ck in zip(statuses, strict, strict=True) if ck in refused] == ["unknown"] * len(refused)
