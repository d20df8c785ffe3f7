"""Condition evaluation. The production path is durable_rules (DurableEvaluator); the plain-Python
ReferenceEvaluator is the oracle the property tests compare it with. Both start from the same
pre-check, which settles every condition whose inputs are missing or ill-typed as `unknown`."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from engine import expr as E
from engine.errors import EngineFault
from engine.facts import Facts
from engine.program import NULL_TOKEN, CompiledCondition, Program, encode_value

Status = Literal["pass", "fail", "unknown"]


@dataclass(slots=True)
class Checked:
    """A condition's inputs: their values, which are missing, and whether it can be evaluated.
    `encoded` holds the inputs as durable_rules sees them (path → value), for those that could be
    encoded; None when built elsewhere (they are then encoded when the fact is built)."""

    values: dict[str, Any]
    missing: tuple[str, ...]
    problem: str | None
    encoded: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def evaluable(self) -> bool:
        return not self.missing and self.problem is None


_KIND_OF_TYPE: dict[type, str] = {
    type(None): "null",
    bool: "bool",
    Decimal: "number",
    str: "string",
    date: "date",
}
_SCALAR = frozenset(("null", "bool", "number", "string", "date"))


def _kind(v: Any) -> str:
    kind = _KIND_OF_TYPE.get(type(v))
    if kind is not None:
        return kind
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


_Info = tuple[Any, str, Any, str | None]
"""A resolved input: value, kind, encoded value (None when it cannot be encoded), why not."""


def _info(dotted: str, value: Any) -> _Info:
    if value is E.MISSING:
        return (value, "missing", None, None)
    kind = _kind(value)
    if kind not in _SCALAR:
        return (value, kind, None, f"{dotted} 不是可比较的单个值")
    if kind == "bool":
        return (value, kind, value, None)
    if kind == "string" and value != NULL_TOKEN:
        return (value, kind, value, None)
    try:
        return (value, kind, encode_value(value), None)
    except (OverflowError, TypeError, ValueError) as exc:
        return (value, kind, None, str(exc))


def _operand(operand: tuple[str | None, E.Node], infos: dict[str, _Info]) -> tuple[Any, str] | None:
    """A leaf operand (a path already resolved, or a literal) and its kind; None otherwise."""
    dotted, node = operand
    if dotted is not None:
        info = infos.get(dotted)
        return None if info is None else (info[0], info[1])
    if type(node) is E.Literal:
        return node.value, _kind(node.value)
    return None


_BY_VALUE = object()
"""Marks a leaf check that depends on the values themselves, not only on their kinds."""


def _leaf_problem(cc: CompiledCondition, infos: dict[str, _Info], env: dict[str, Any]) -> Any:
    """Why the leaves of a condition cannot be compared, or None. The answer depends only on the
    kinds of the inputs, except when strings are ordered (then on their characters too): it is
    remembered per condition and kinds, and `_BY_VALUE` is returned alongside when it may not be."""
    by_value = False
    for op, left_operand, right_operands in cc.plan:
        got = _operand(left_operand, infos)
        if got is None:
            by_value = True
            value = E.evaluate(left_operand[1], env)
            got = (value, _kind(value))
        left, kl = got
        if op == "truth":
            if kl != "bool":
                return f"{left_operand[0] or '值'} 应为是/否", by_value
            continue
        for right_operand in right_operands:
            got = _operand(right_operand, infos)
            if got is None:
                by_value = True
                value = E.evaluate(right_operand[1], env)
                got = (value, _kind(value))
            right, kr = got
            if op == "==" or op == "!=" or op == "in":
                if kl != kr and kl != "null" and kr != "null":
                    return f"比较的两个值类型不一致（{kl} 与 {kr}）", by_value
            elif kl != kr or kl == "null" or kl == "bool":
                return f"无法比较大小（{kl} 与 {kr}）", by_value
            elif kl == "string":
                by_value = True
                if _escaped(left) or _escaped(right):
                    return "含引号、反斜杠或控制字符的文本不能比较大小", by_value
    return None, by_value


def _check(cc: CompiledCondition, env: dict[str, Any], infos: dict[str, _Info]) -> Checked:
    """The pre-check of one condition; `infos` caches each path's resolution for the whole case."""
    values: dict[str, Any] = {}
    encoded: dict[str, Any] = {}
    missing: list[str] = []
    problem: str | None = None
    kinds: list[str] = []
    unknown = E.MISSING
    for dotted, parts in cc.path_parts:
        info = infos.get(dotted)
        if info is None:
            info = infos[dotted] = _info(dotted, E.resolve(env, parts))
        value, kind, code, why = info
        values[dotted] = value
        kinds.append(kind)
        if value is unknown:
            missing.append(dotted)
        elif why is None:
            encoded[dotted] = code
        elif problem is None:
            problem = why
    if missing:
        return Checked(values, tuple(missing), None, encoded)
    if problem is not None:
        return Checked(values, (), problem, encoded)
    memo: dict[tuple[str, ...], Any] = cc.leaf_memo
    key = tuple(kinds)
    known = memo.get(key, _BY_VALUE)
    if known is not _BY_VALUE:
        return Checked(values, (), known, encoded)
    problem, by_value = _leaf_problem(cc, infos, env)
    if not by_value:
        memo[key] = problem
    return Checked(values, (), problem, encoded)


def check_condition(cc: CompiledCondition, env: dict[str, Any]) -> Checked:
    """Resolve a condition's inputs and settle whether it can be evaluated (types, encodability)."""
    return _check(cc, env, {})


def check_all(program: Program, facts: Facts) -> list[Checked]:
    infos: dict[str, _Info] = {}
    env = facts.env
    return [_check(cc, env, infos) for cc in program.conditions]


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


def _fact_fields(program: Program, checked: list[Checked], fact: dict[str, Any]) -> bool:
    """Add to `fact` one field per compared value (those that can be encoded); True when some
    condition is unknown. Values come from the pre-check, which has resolved every path."""
    keys = program.keys
    unknown = False
    for ck in checked:
        if ck.missing or ck.problem is not None:
            unknown = True
        encoded = ck.encoded
        if encoded is None:
            encoded = {}
            for dotted, v in ck.values.items():
                if v is E.MISSING:
                    continue
                try:
                    encoded[dotted] = encode_value(v)
                except (OverflowError, TypeError, ValueError):
                    continue
        for dotted, v in encoded.items():
            fact[keys[dotted]] = v
    return unknown


def encode_fact(program: Program, facts: Facts, checked: list[Checked]) -> dict[str, Any]:
    """The flat fact durable_rules sees: one field per compared value, `_u` when any is unknown."""
    fact: dict[str, Any] = {"_t": "c"}
    if _fact_fields(program, checked, fact):
        fact["_u"] = 1
    return fact


BATCH = 128
_to_json = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
"""Facts asserted together under one session (each carries its index `i`)."""


def _fired_by(message: str) -> list[tuple[str, int]]:
    """(rule, fact index) of a fired action's message `{"<rule>":{"m":{"i": <n>, ...}}}`."""
    end = message.find('"', 2)
    head = '":{"m":{"i": '
    if message.startswith('{"', 0) and message.startswith(head, end):
        start = end + len(head)
        stop = message.find(",", start)
        number = message[start:stop]
        if number.isdigit():
            return [(message[2:end], int(number))]
    out: list[tuple[str, int]] = []
    for name, matched in json.loads(message).items():
        for m in matched if isinstance(matched, list) else [matched]:
            out.append((name, int(m["m"]["i"])))
    return out


class DurableEvaluator:
    """Evaluates conditions with durable_rules' Rete network, driving its C engine directly.

    One engine per process (the extension module's ruleset table), and durable_rules is not
    thread-safe (two threads posting at once crash it): every call holds a class-wide lock, and no
    dispatch timers are ever started (the Python `Host`, which starts them, is not used). Cases are
    asserted in batches of facts under a fresh session id whose state is deleted at once, so nothing
    is left behind; every fact fires at least one rule (`ok`, an `f<i>` or `u`), which keeps
    `delete_state` safe.
    """

    _lock = threading.Lock()
    _handles: dict[str, int] = {}  # noqa: RUF012
    _sids = itertools.count(1)

    def register(self, program: Program) -> None:
        """Compile the program's rules into the engine (once per content hash)."""
        with self._lock:
            self._handle_locked(program)

    def _handle_locked(self, program: Program) -> int:
        handle = self._handles.get(program.durable_name)
        if handle is None:
            import durable_rules_engine as dre

            rules = {
                name: {k: v for k, v in rule.items() if k != "run"}
                for name, rule in program.durable_rules.items()
            }
            handle = dre.create_ruleset(program.durable_name, json.dumps(rules, ensure_ascii=False))
            self._handles[program.durable_name] = handle
        return handle

    def evaluate(self, program: Program, facts: Facts, checked: list[Checked]) -> list[Status]:
        return self.evaluate_many(program, [(facts, checked)])[0]

    def evaluate_many(
        self, program: Program, items: Sequence[tuple[Facts, list[Checked]]]
    ) -> list[list[Status]]:
        fired: list[set[str]] = [set() for _ in items]
        batches: list[tuple[str, str]] = []
        for start in range(0, len(items), BATCH):
            sid = str(next(self._sids))
            batch = []
            for n in range(start, min(start + BATCH, len(items))):
                fact: dict[str, Any] = {"i": n, "sid": sid, "_t": "c"}
                if _fact_fields(program, items[n][1], fact):
                    fact["_u"] = 1
                batch.append(fact)
            batches.append((sid, _to_json(batch)))
        with self._lock:
            handle = self._handle_locked(program)
            for sid, payload in batches:
                self._assert_locked(handle, sid, payload, fired)
        return [
            resolve_statuses(program, checked, rules)
            for (_, checked), rules in zip(items, fired, strict=True)
        ]

    @staticmethod
    def _assert_locked(handle: int, sid: str, payload: str, fired: list[set[str]]) -> None:
        import durable_rules_engine as dre

        seen = 0
        try:
            code, state = dre.assert_facts(handle, payload)
            if code not in (0, 1):  # 1: some fact fired nothing, told apart per case below
                raise EngineFault(f"规则引擎拒绝了案件事实（代码 {code}）")
            started = dre.start_action_for_state(handle, state)
            message = started[1] if started else None
            while message:
                for rule, n in _fired_by(message):
                    fired[n].add(rule)
                seen += 1
                message = dre.complete_and_start_action(handle, state)
        except dre.error as exc:
            raise EngineFault(f"规则引擎出错：{exc}") from exc
        finally:
            if seen:  # deleting a session in which nothing fired crashes durable_rules
                dre.delete_state(handle, sid)


def resolve_statuses(program: Program, checked: list[Checked], fired: set[str]) -> list[Status]:
    """Turn the fired rules into statuses, refusing any result that contradicts itself."""
    if not fired:
        raise EngineFault("规则引擎未对案件作出任何判断（规则与事实不一致）")
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
    if not all_known and "u" not in fired:
        raise EngineFault("规则引擎未识别无法核验的条件")
    return out
