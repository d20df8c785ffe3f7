"""The durable_rules backend (production): a program's conditions compiled to durable_rules JSON, the
encoding of fact values, and the evaluator that drives durable_rules' C engine.

Everything durable_rules needs is here: numbers reach it as exact integers, dates as ordinals, a
declared "none" as a reserved text; the rules are one `ok` rule (every conjunctive condition holds),
one `f<i>` rule per condition (it fails) and a `u` rule (some condition is unknown). The program
itself stays backend-neutral; its compiled form is built here on first use and kept with it.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine import expr as E
from engine.conditions import Constant, Junction, Shape, normal_form
from engine.errors import EngineFault, ExpressionError

if TYPE_CHECKING:
    from engine.facts import Facts
    from engine.precheck import Checked, Status
    from engine.program import Program

MAX_CONDITIONS = 60
"""durable_rules fails (error 303) when too many rules fire on one fact; stay well below."""
NUMBER_SCALE = 10_000
"""Numbers reach durable_rules as integers in units of 1/10000 (exact; durable compares doubles)."""
NUMBER_LIMIT = Decimal(2**62) / NUMBER_SCALE
NULL_TOKEN = "\u2205null"
"""How a declared "none" (null) reaches durable_rules, which has no null comparisons."""
MAX_ALTERNATIVES = 32
"""durable_rules matches a rule in disjunctive normal form: a rule with more alternatives than this
is refused (the matching cost grows with their product)."""


def encode_value(value: Any) -> Any:
    """A known fact value as durable_rules sees it: exact integers, ordinals, strings, booleans.
    Raises OverflowError, TypeError or ValueError for a value it cannot compare."""
    if value is None:
        return NULL_TOKEN
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value) >= NUMBER_LIMIT:
            raise OverflowError(f"数值超出可比较范围：{value}")
        scaled = value * NUMBER_SCALE
        if scaled != scaled.to_integral_value():
            raise ValueError(f"数值 {value} 超过 4 位小数精度（请用 round() 取整到所需位数）")
        return int(scaled)
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, str):
        if value == NULL_TOKEN:
            raise ValueError("文本与空值标记相同，无法比较")
        return value
    raise TypeError(f"不能交给规则引擎比较的值：{value!r}")


class _Encoder:
    """The pre-check's view of `encode_value` (engine.precheck.Encoder): booleans and texts reach
    durable_rules unchanged, except the text reserved for null."""

    as_is = frozenset(("bool", "string"))
    reserved = frozenset((NULL_TOKEN,))

    @staticmethod
    def encode(value: Any) -> Any:
        return encode_value(value)


ENCODER = _Encoder()
"""The values durable_rules can compare, as the pre-check asks for them."""


# --------------------------------------------------------------------------- rules JSON

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
_ALWAYS: dict[str, Any] = {"_t": "c"}
_NEVER: dict[str, Any] = {"_t": "never"}


def _key(path: E.Path, keys: dict[str, str]) -> str:
    dotted = path.dotted
    if dotted not in keys:
        keys[dotted] = f"k{len(keys)}"
    return keys[dotted]


def _compare_json(op: str, left: E.Node, right: E.Node, keys: dict[str, str]) -> dict[str, Any]:
    if isinstance(left, E.Literal) and isinstance(right, E.Path):
        left, right, op = right, left, _FLIP[op]
    if isinstance(left, E.Literal) and isinstance(right, E.Literal):
        truth = E.compare(op, left.value, right.value)
        return dict(_ALWAYS) if truth is True else dict(_NEVER)
    assert isinstance(left, E.Path)
    k = _key(left, keys)
    target: Any
    if isinstance(right, E.Path):
        # durable_rules counts a comparison with an absent `$m` field as true: require it to exist
        other = _key(right, keys)
        cmp = {k: {"$m": other}} if op == "==" else {_DURABLE_OP[op]: {k: {"$m": other}}}
        return {"$and": [{"$ex": {other: 1}}, cmp]}
    else:
        assert isinstance(right, E.Literal)
        try:
            target = encode_value(right.value)
        except (OverflowError, TypeError, ValueError) as exc:
            raise ExpressionError(f"条件中的常量无法交给规则引擎比较：{exc}") from exc
    if op == "==":
        return {k: target}
    return {_DURABLE_OP[op]: {k: target}}


def _compile_shape(shape: Shape, keys: dict[str, str]) -> dict[str, Any]:
    """A condition in normal form (engine.program.normal_form) as durable_rules JSON."""
    if isinstance(shape, Junction):
        tag = "$" + shape.op
        parts: list[Any] = []
        for side in shape.parts:
            sub = _compile_shape(side, keys)
            parts.extend(sub.get(tag, [sub]))
        return {tag: parts}
    if isinstance(shape, Constant):
        return dict(_ALWAYS) if shape.value else dict(_NEVER)
    leaf = shape.leaf
    if leaf.op == "truth":
        assert isinstance(leaf.left, E.Path)
        return {_key(leaf.left, keys): not shape.negated}
    if leaf.op == "in":
        assert isinstance(leaf.right, E.ListExpr)
        if shape.negated:
            return {"$and": [_compare_json("!=", leaf.left, i, keys) for i in leaf.right.items]}
        return {"$or": [_compare_json("==", leaf.left, i, keys) for i in leaf.right.items]}
    assert leaf.right is not None
    return _compare_json(leaf.op, leaf.left, leaf.right, keys)


def alternatives(rule: Any) -> int:
    """Number of alternatives of a compiled expression in disjunctive normal form."""
    if isinstance(rule, dict):
        if "$or" in rule:
            return sum(alternatives(r) for r in rule["$or"])
        if "$and" in rule:
            n = 1
            for r in rule["$and"]:
                n *= alternatives(r)
            return n
    return 1


def compile_condition(ast: E.Node, keys: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The rules JSON of a condition holding and of it failing. Raises ExpressionError when
    durable_rules cannot match it (a constant it cannot compare, too many alternatives)."""
    when_pass = _compile_shape(normal_form(ast), keys)
    when_fail = _compile_shape(normal_form(E.negate(ast)), keys)
    worst = max(alternatives(when_pass), alternatives(when_fail))
    if worst > MAX_ALTERNATIVES:
        raise ExpressionError(
            f"条件展开后有 {worst} 种组合（上限 {MAX_ALTERNATIVES}），规则引擎无法高效匹配",
            suggestion="把部分判断写进 derived，再在条件中引用其结果",
        )
    return when_pass, when_fail


def check_program_size(conditions: int) -> str | None:
    """Why durable_rules cannot take a ruleset with this many conditions, or None."""
    if conditions > MAX_CONDITIONS:
        return f"条件过多（{conditions} > {MAX_CONDITIONS}），请拆分事项"
    return None


@dataclass(frozen=True)
class DurableRules:
    """A program compiled for durable_rules."""

    name: str
    """The ruleset's name in the engine: item, version and content hash."""
    keys: dict[str, str]
    """dotted fact path → durable_rules field name."""
    when_pass: tuple[dict[str, Any], ...]
    when_fail: tuple[dict[str, Any], ...]
    """Per condition, the rules JSON of it holding and of it failing."""
    conjunctive: frozenset[int]
    """Indexes of the conditions inside the `ok` rule (those without alternatives)."""
    rules: dict[str, Any]


def _compile_program(program: Program) -> DurableRules:
    keys: dict[str, str] = {}
    compiled = []
    for cc in program.conditions:
        cc.memos["durable"] = rules = compile_condition(cc.ast, keys)
        compiled.append(rules)
    when_pass = tuple(p for p, _ in compiled)
    when_fail = tuple(f for _, f in compiled)
    conjunctive = frozenset(i for i, p in enumerate(when_pass) if alternatives(p) == 1)
    rs = program.ruleset
    return DurableRules(
        name=f"{rs.item.id}-{rs.version}-{program.sha256[:16]}".replace(".", "_"),
        keys=keys,
        when_pass=when_pass,
        when_fail=when_fail,
        conjunctive=conjunctive,
        rules=_durable_rules(when_pass, when_fail, conjunctive),
    )


def rules_for(program: Program) -> DurableRules:
    """The program compiled for durable_rules (once per program, kept with it)."""
    return program.memo("durable", _compile_program)


def _durable_rules(
    when_pass: tuple[dict[str, Any], ...], when_fail: tuple[dict[str, Any], ...], conjunctive: frozenset[int]
) -> dict[str, Any]:
    """The rules: `ok` fires once when every conjunctive condition holds (the clean-case fast path;
    conditions with alternatives stay out of it, as their product would explode the match); `f<i>`
    fires only when condition i fails; `u` fires when some condition is unknown, so every fact fires
    a rule."""
    marker = {"_t": "c"}
    rules: dict[str, Any] = {}
    conj: list[Any] = [marker]
    for i, p in enumerate(when_pass):
        if i in conjunctive:
            conj.extend(p.get("$and", [p]))
    rules["ok"] = {"all": [{"m": {"$and": conj}}], "run": "ok"}
    for i, f in enumerate(when_fail):
        body = f.get("$and", [f])
        rules[f"f{i}"] = {"all": [{"m": {"$and": [marker, *body]}}], "run": f"f{i}"}
    rules["u"] = {"all": [{"m": {"$and": [marker, {"_u": 1}]}}], "run": "u"}
    return rules


# --------------------------------------------------------------------------- facts


def _fact_fields(keys: dict[str, str], checked: list[Checked], fact: dict[str, Any]) -> bool:
    """Add to `fact` one field per compared value (those that can be encoded); True when some
    condition is unknown. Values come from the pre-check, which has resolved every path."""
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
    if _fact_fields(rules_for(program).keys, checked, fact):
        fact["_u"] = 1
    return fact


BATCH = 128
"""Facts asserted together under one session (each carries its index `i`)."""
_to_json = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


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


# --------------------------------------------------------------------------- the evaluator


class DurableEvaluator:
    """Evaluates conditions with durable_rules' Rete network, driving its C engine directly.

    One engine per process (the extension module's ruleset table), and durable_rules is not
    thread-safe (two threads posting at once crash it): every call holds a class-wide lock, and no
    dispatch timers are ever started (the Python `Host`, which starts them, is not used). Cases are
    asserted in batches of facts under a fresh session id whose state is deleted at once, so nothing
    is left behind; every fact fires at least one rule (`ok`, an `f<i>` or `u`), which keeps
    `delete_state` safe.
    """

    encoder = ENCODER
    _lock = threading.Lock()
    _handles: dict[str, int] = {}  # noqa: RUF012
    _sids = itertools.count(1)

    def register(self, program: Program) -> None:
        """Compile the program's rules into the engine (once per content hash)."""
        with self._lock:
            self._handle_locked(rules_for(program))

    def _handle_locked(self, compiled: DurableRules) -> int:
        handle = self._handles.get(compiled.name)
        if handle is None:
            import durable_rules_engine as dre

            rules = {
                name: {k: v for k, v in rule.items() if k != "run"} for name, rule in compiled.rules.items()
            }
            handle = dre.create_ruleset(compiled.name, json.dumps(rules, ensure_ascii=False))
            self._handles[compiled.name] = handle
        return handle

    def evaluate(self, program: Program, facts: Facts, checked: list[Checked]) -> list[Status]:
        return self.evaluate_many(program, [(facts, checked)])[0]

    def evaluate_many(
        self, program: Program, items: Sequence[tuple[Facts, list[Checked]]]
    ) -> list[list[Status]]:
        compiled = rules_for(program)
        keys = compiled.keys
        fired: list[set[str]] = [set() for _ in items]
        batches: list[tuple[str, str]] = []
        for start in range(0, len(items), BATCH):
            sid = str(next(self._sids))
            batch = []
            for n in range(start, min(start + BATCH, len(items))):
                fact: dict[str, Any] = {"i": n, "sid": sid, "_t": "c"}
                if _fact_fields(keys, items[n][1], fact):
                    fact["_u"] = 1
                batch.append(fact)
            batches.append((sid, _to_json(batch)))
        with self._lock:
            handle = self._handle_locked(compiled)
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
    if "ok" in fired and any(f"f{i}" in fired for i in rules_for(program).conjunctive):
        raise EngineFault("规则引擎同时判定全部满足与部分不满足")
    if all_known and not any_fail and "ok" not in fired:
        raise EngineFault("规则引擎未确认全部条件满足")
    if not all_known and "u" not in fired:
        raise EngineFault("规则引擎未识别无法核验的条件")
    return out
