"""Condition evaluation. The production path is durable_rules (DurableEvaluator); the plain-Python
ReferenceEvaluator is the oracle the property tests compare it with. Both start from the same
pre-check, which settles every condition whose inputs are missing or ill-typed as `unknown`."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from engine import expr as E
from engine.errors import EngineFault
from engine.facts import Facts
from engine.program import CompiledCondition, Program, encode_value

Status = Literal["pass", "fail", "unknown"]


@dataclass(frozen=True)
class Checked:
    """A condition's inputs: their values, which are missing, and whether it can be evaluated."""

    values: dict[str, Any]
    missing: tuple[str, ...]
    problem: str | None

    @property
    def evaluable(self) -> bool:
        return not self.missing and self.problem is None


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Decimal):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, date):
        return "date"
    return type(v).__name__


def _escaped(text: str) -> bool:
    """Characters JSON escapes: durable_rules orders strings in their escaped form, Python does not."""
    return any(ch in '"\\' or ord(ch) < 0x20 for ch in text)


def check_condition(cc: CompiledCondition, env: dict[str, Any]) -> Checked:
    values = {p: E.resolve(env, p.split(".")) for p in cc.paths}
    missing = tuple(p for p, v in values.items() if v is E.MISSING)
    if missing:
        return Checked(values, missing, None)
    for p, v in values.items():
        if _kind(v) not in ("null", "bool", "number", "string", "date"):
            return Checked(values, (), f"{p} 不是可比较的单个值")
        try:
            encode_value(v)
        except (OverflowError, TypeError, ValueError) as exc:
            return Checked(values, (), str(exc))
    for leaf in cc.leaves:
        left = E.evaluate(leaf.left, env)
        if leaf.op == "truth":
            if not isinstance(left, bool):
                name = leaf.left.dotted if isinstance(leaf.left, E.Path) else "值"
                return Checked(values, (), f"{name} 应为是/否")
            continue
        assert leaf.right is not None
        rights = (
            [E.evaluate(i, env) for i in leaf.right.items]
            if isinstance(leaf.right, E.ListExpr)
            else [E.evaluate(leaf.right, env)]
        )
        for right in rights:
            kl, kr = _kind(left), _kind(right)
            if leaf.op in ("==", "!=", "in"):
                if "null" not in (kl, kr) and kl != kr:
                    return Checked(values, (), f"比较的两个值类型不一致（{kl} 与 {kr}）")
            elif kl != kr or kl in ("null", "bool"):
                return Checked(values, (), f"无法比较大小（{kl} 与 {kr}）")
            elif kl == "string" and (_escaped(left) or _escaped(right)):
                return Checked(values, (), "含引号、反斜杠或控制字符的文本不能比较大小")
    return Checked(values, (), None)


def check_all(program: Program, facts: Facts) -> list[Checked]:
    return [check_condition(cc, facts.env) for cc in program.conditions]


class Evaluator(Protocol):
    def evaluate(self, program: Program, facts: Facts, checked: list[Checked]) -> list[Status]: ...

    def evaluate_many(
        self, program: Program, items: Sequence[tuple[Facts, list[Checked]]]
    ) -> list[list[Status]]:
        """The statuses of many cases at once, in order: the same as `evaluate` on each."""
        ...


class ReferenceEvaluator:
    """Plain Python over the expression tree: the oracle in tests."""

    def evaluate(self, program: Program, facts: Facts, checked: list[Checked]) -> list[Status]:
        out: list[Status] = []
        for cc, ck in zip(program.conditions, checked, strict=True):
            if not ck.evaluable:
                out.append("unknown")
                continue
            v = E.evaluate(cc.ast, facts.env)
            out.append("unknown" if v is E.MISSING else ("pass" if v is True else "fail"))
        return out

    def evaluate_many(
        self, program: Program, items: Sequence[tuple[Facts, list[Checked]]]
    ) -> list[list[Status]]:
        return [self.evaluate(program, facts, checked) for facts, checked in items]


def encode_fact(program: Program, facts: Facts, checked: list[Checked]) -> dict[str, Any]:
    """The flat fact durable_rules sees: one field per compared value, `_u` when any is unknown.
    Values come from the pre-check, which has resolved every path the conditions use."""
    fact: dict[str, Any] = {"_t": "c"}
    keys = program.keys
    unknown = False
    for ck in checked:
        if ck.missing or ck.problem is not None:
            unknown = True
        for dotted, v in ck.values.items():
            if v is E.MISSING:
                continue
            kind = type(v)
            if kind is str or kind is bool:
                fact[keys[dotted]] = v
                continue
            try:
                fact[keys[dotted]] = encode_value(v)
            except (OverflowError, TypeError, ValueError):
                continue
    if unknown:
        fact["_u"] = 1
    return fact


class DurableEvaluator:
    """Evaluates conditions with durable_rules' Rete network.

    One host per process. durable_rules is not thread-safe (two threads posting to one host crash
    it), so every call holds a lock, and the host's background dispatch timers are never started.
    Each case is asserted under a fresh session id whose state is deleted at once: nothing is left
    behind per case.
    """

    _lock = threading.Lock()
    _host: Any = None
    _registered: set[str] = set()  # noqa: RUF012
    _fired: list[str] = []  # noqa: RUF012
    _sids = itertools.count(1)

    @classmethod
    def _get_host(cls) -> Any:
        if cls._host is None:
            import durable.engine as de

            fired = cls._fired

            class _Host(de.Host):
                def _run(self) -> None:  # no timer threads: we dispatch synchronously
                    return None

                def get_action(self, action_name: str) -> Any:
                    # exactly one parameter: durable_rules treats a two-parameter action as async
                    def action(_closure: Any) -> None:
                        fired.append(action_name)

                    return action

            cls._host = _Host()
        return cls._host

    def register(self, program: Program) -> None:
        """Compile the program's rules into the host (once per content hash)."""
        with self._lock:
            self._register_locked(program)

    def _register_locked(self, program: Program) -> None:
        if program.durable_name in self._registered:
            return
        import copy

        host = self._get_host()
        host.register_rulesets({program.durable_name: copy.deepcopy(program.durable_rules)})
        self._registered.add(program.durable_name)

    def evaluate(self, program: Program, facts: Facts, checked: list[Checked]) -> list[Status]:
        import durable.engine as de

        fact = encode_fact(program, facts, checked)
        with self._lock:
            self._register_locked(program)
            host = self._get_host()
            sid = str(next(self._sids))
            fact["sid"] = sid
            self._fired.clear()
            try:
                host.assert_fact(program.durable_name, fact)
            except de.MessageNotHandledException as exc:
                raise EngineFault("规则引擎未对案件作出任何判断（规则与事实不一致）") from exc
            fired = set(self._fired)
            host.delete_state(program.durable_name, sid)
        return resolve_statuses(program, checked, fired)

    def evaluate_many(
        self, program: Program, items: Sequence[tuple[Facts, list[Checked]]]
    ) -> list[list[Status]]:
        return [self.evaluate(program, facts, checked) for facts, checked in items]


def resolve_statuses(program: Program, checked: list[Checked], fired: set[str]) -> list[Status]:
    """Turn the fired rules into statuses, refusing any result that contradicts itself."""
    out: list[Status] = []
    any_fail = False
    all_known = True
    for i, ck in enumerate(checked):
        if ck.missing or ck.problem is not None:
            out.append("unknown")
            all_known = False
        elif f"f{i}" in fired:
            out.append("fail")
            any_fail = True
        else:
            out.append("pass")
    if "ok" in fired and any(f"f{i}" in fired for i in program.conjunctive):
        raise EngineFault("规则引擎同时判定全部满足与部分不满足")
    if all_known and not any_fail and "ok" not in fired:
        raise EngineFault("规则引擎未确认全部条件满足")
    return out
