"""A ruleset checked and compiled: expressions parsed, names resolved, steps ordered, conditions
compiled to durable_rules JSON. Built once per ruleset version and shared by every decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, TypeVar

from engine import expr as E
from engine.errors import ExpressionError, RulesetError
from engine.loader import canonical_sha256, load_ruleset
from engine.model import PLACEHOLDER, Condition, Derived, Lookup, Material, Output, Ruleset, Table
from engine.registries import REGISTRIES

CASE_FIELDS = ("case_id", "submitted_at", "submitted_on", "commitments")
APPLICANT_FIELDS = ("kind", "name", "id_number", "credit_code")
MAX_CONDITIONS = 60
"""durable_rules fails (error 303) when too many rules fire on one fact; stay well below."""
NUMBER_SCALE = 10_000
"""Numbers reach durable_rules as integers in units of 1/10000 (exact; durable compares doubles)."""
NUMBER_LIMIT = Decimal(2**62) / NUMBER_SCALE
NULL_TOKEN = "\u2205null"
"""How a declared "none" (null) reaches durable_rules, which has no null comparisons."""
_T = TypeVar("_T")
CATCH_ALL_WORDING = ("其他材料", "相关材料", "等材料", "其他相关", "有关材料", "其它材料")


@dataclass(frozen=True)
class Step:
    """One fact-producing step: a registry look-up, a derived value or a decision table."""

    name: str
    kind: Literal["lookup", "derived", "table"]
    spec: Lookup | Derived | Table
    deps: frozenset[str]
    match: dict[str, E.Node] = field(default_factory=dict)
    where: E.Node | None = None
    value: E.Node | None = None
    rows: list[tuple[E.Node, dict[str, E.Node]]] = field(default_factory=list)

    @cached_property
    def ordered_deps(self) -> tuple[str, ...]:
        """The steps this one reads, in name order (how its sources are cited)."""
        return tuple(sorted(self.deps))

    @cached_property
    def where_paths(self) -> tuple[E.Path, ...]:
        """The facts the `where` of a look-up reads (besides the row itself)."""
        return tuple(E.free_paths(self.where, frozenset({"row"}))) if self.where is not None else ()


@dataclass(frozen=True)
class Leaf:
    """One comparison inside a condition (operands are paths or literals)."""

    op: str  # == != < <= > >= in truth
    left: E.Node
    right: E.Node | None


Operand = tuple[str | None, E.Node]


@dataclass(frozen=True)
class CompiledCondition:
    spec: Condition
    ast: E.Node
    paths: tuple[str, ...]
    leaves: tuple[Leaf, ...]
    when_pass: dict[str, Any]
    when_fail: dict[str, Any]
    shown: tuple[str, ...] = ()
    """Further values the failure message cites (shown, but not inputs of the condition)."""

    @cached_property
    def cited(self) -> tuple[str, ...]:
        """Every path a decision cites for this condition: its inputs, then the shown values."""
        return tuple(dict.fromkeys((*self.paths, *self.shown)))

    @cached_property
    def leaf_memo(self) -> dict[tuple[str, ...], str | None]:
        """Whether the leaves can be compared, by the kinds of the inputs (filled by the pre-check)."""
        return {}

    @cached_property
    def plan(self) -> tuple[tuple[str, Operand, tuple[Operand, ...]], ...]:
        """The leaves as (op, left operand, right operands): an `in` has several right operands,
        a truth test none. An operand is (dotted path or None, node)."""

        def operand(node: E.Node) -> Operand:
            return (node.dotted if isinstance(node, E.Path) else None, node)

        return tuple(
            (
                leaf.op,
                operand(leaf.left),
                ()
                if leaf.right is None
                else tuple(
                    operand(n)
                    for n in (leaf.right.items if isinstance(leaf.right, E.ListExpr) else (leaf.right,))
                ),
            )
            for leaf in self.leaves
        )

    @cached_property
    def shown_parts(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The shown values' paths, each with its parts."""
        return tuple((p, tuple(p.split("."))) for p in self.shown)

    @cached_property
    def path_parts(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The input paths, each with its parts."""
        return tuple(zip(self.paths, self.parts, strict=True))

    @cached_property
    def parts(self) -> tuple[tuple[str, ...], ...]:
        """The input paths split at their dots (same order as `paths`)."""
        return tuple(tuple(p.split(".")) for p in self.paths)


@dataclass(frozen=True)
class Program:
    ruleset: Ruleset
    sha256: str
    source: str
    steps: tuple[Step, ...]
    materials: tuple[tuple[Material, E.Node | None], ...]
    conditions: tuple[CompiledCondition, ...]
    outputs: tuple[tuple[str, Output, E.Node], ...]
    keys: dict[str, str]
    """dotted fact path → durable_rules field name."""
    durable_name: str
    durable_rules: dict[str, Any]
    lines: dict[tuple[str, ...], int]
    conjunctive: frozenset[int] = frozenset()
    """Indexes of the conditions inside the `ok` rule (those without alternatives)."""

    @property
    def item(self) -> str:
        return self.ruleset.item.id

    @cached_property
    def _memos(self) -> dict[str, Any]:
        return {}

    def memo(self, key: str, build: Callable[[Program], _T]) -> _T:
        """A value derived from the program alone (e.g. the decision assembler's plan), built on
        first use and kept with the program."""
        memos = self._memos
        if key not in memos:
            memos[key] = build(self)
        value: _T = memos[key]
        return value

    @cached_property
    def param_values(self) -> dict[str, Any]:
        """The parameters as engine values (`params.*` of every case): built once."""
        return {name: engine_value(p.value) for name, p in self.ruleset.parameters.items()}


def engine_value(v: Any) -> Any:
    """A value from a ruleset or a registry as the engine computes with it: numbers as Decimal."""
    kind = type(v)
    if kind is str or kind is Decimal or kind is date or kind is bool or v is None:
        return v
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        return Decimal(str(v))
    return v


# --------------------------------------------------------------------------- building


def build_program(text: str, *, source: str) -> Program:
    """Load, check and compile a ruleset. Raises RulesetError naming file, line and path."""
    rs, lines = load_ruleset(text, source=source)
    return _Builder(rs, lines, source).build()


class _Builder:
    def __init__(self, rs: Ruleset, lines: dict[tuple[str, ...], int], source: str) -> None:
        self.rs = rs
        self.lines = lines
        self.source = source
        self.steps_spec: dict[str, tuple[str, Lookup | Derived | Table]] = {}
        for name, lk in rs.lookups.items():
            self.steps_spec[name] = ("lookup", lk)
        for name, d in rs.derived.items():
            self.steps_spec[name] = ("derived", d)
        for name, t in rs.tables.items():
            self.steps_spec[name] = ("table", t)
        self.doc_kinds = {m.document_kind for m in rs.materials if m.document_kind}
        self.doc_fields = {m.document_kind: m.fields for m in rs.materials if m.document_kind}

    def fail(self, message: str, path: str, suggestion: str | None = None) -> RulesetError:
        loc = tuple(path.split("."))
        line = None
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                line = self.lines[loc[:n]]
                break
        return RulesetError(message, source=self.source, line=line, path=path, suggestion=suggestion)

    def parse(self, text: str, path: str, bound: frozenset[str] = frozenset()) -> E.Node:
        try:
            node = E.parse(text)
        except ExpressionError as exc:
            raise self.fail(exc.message, path, exc.suggestion) from exc
        for p in E.free_paths(node, bound):
            self.check_path(p, path)
        return node

    def check_path(self, p: E.Path, where: str) -> None:
        head, rest = p.parts[0], p.parts[1:]

        def need(options: list[str] | tuple[str, ...], what: str) -> None:
            if not rest:
                raise self.fail(f"{head} 之后需要写出{what}", where)
            if rest[0] not in options:
                raise self.fail(
                    f"{what} {rest[0]!r} 不存在（{head}.{rest[0]}）", where, E.suggest(rest[0], list(options))
                )

        if head == "form":
            need(list(self.rs.fields), "申报字段")
            spec = self.rs.fields[rest[0]]
            if len(rest) > 1 and spec.items is not None and rest[1] not in spec.items:
                raise self.fail(
                    f"列表元素字段 {rest[1]!r} 不存在", where, E.suggest(rest[1], list(spec.items))
                )
        elif head == "params":
            need(list(self.rs.parameters), "参数")
        elif head == "applicant":
            need(APPLICANT_FIELDS, "申请人字段")
        elif head == "case":
            need(CASE_FIELDS, "案件字段")
        elif head == "documents":
            need(sorted(self.doc_kinds), "材料类型")
            fields = self.doc_fields.get(rest[0], {})
            allowed = ["found", *fields]
            if len(rest) > 1 and rest[1] not in allowed:
                raise self.fail(
                    f"材料 {rest[0]} 没有字段 {rest[1]!r}（请在 materials 的 fields 中声明）",
                    where,
                    E.suggest(rest[1], allowed),
                )
        elif head in self.steps_spec:
            kind, step_spec = self.steps_spec[head]
            if rest and kind == "lookup":
                assert isinstance(step_spec, Lookup)
                reg = REGISTRIES[step_spec.registry]
                cols = [*reg.column_names, "found"]
                if rest[0] not in cols:
                    raise self.fail(
                        f"{reg.name} 没有列 {rest[0]!r}（{head}.{rest[0]}）", where, E.suggest(rest[0], cols)
                    )
            elif rest and kind == "table":
                assert isinstance(step_spec, Table)
                cols = list(step_spec.rows[0].then)
                if rest[0] not in cols:
                    raise self.fail(f"决策表 {head} 没有输出列 {rest[0]!r}", where, E.suggest(rest[0], cols))
        else:
            known = ["form", "params", "applicant", "case", "documents", *self.steps_spec]
            raise self.fail(f"未定义的名称 {head!r}", where, E.suggest(head, known))

    def build(self) -> Program:
        rs = self.rs
        self.check_wording()
        for name, lk in rs.lookups.items():
            if lk.registry not in REGISTRIES:
                raise self.fail(
                    f"未知的共享数据库 {lk.registry!r}",
                    f"lookups.{name}.registry",
                    E.suggest(lk.registry, list(REGISTRIES)),
                )
            reg = REGISTRIES[lk.registry]
            for col in lk.match:
                if reg.column(col) is None:
                    raise self.fail(
                        f"{reg.name} 没有列 {col!r}",
                        f"lookups.{name}.match.{col}",
                        E.suggest(col, list(reg.column_names)),
                    )
        steps = self.order_steps()
        materials = tuple(
            (m, self.parse(m.exempt_when, f"materials.{i}.exempt_when") if m.exempt_when else None)
            for i, m in enumerate(rs.materials)
        )
        if len(rs.conditions) > MAX_CONDITIONS:
            raise self.fail(f"条件过多（{len(rs.conditions)} > {MAX_CONDITIONS}），请拆分事项", "conditions")
        keys: dict[str, str] = {}
        conditions = tuple(self.compile_condition(i, c, keys) for i, c in enumerate(rs.conditions))
        outputs = tuple(
            (name, o, self.parse(o.expr, f"outputs.{name}.expr")) for name, o in rs.outputs.items()
        )
        sha = canonical_sha256(rs)
        durable_name = f"{rs.item.id}-{rs.version}-{sha[:16]}".replace(".", "_")
        return Program(
            ruleset=rs,
            sha256=sha,
            source=self.source,
            steps=steps,
            materials=materials,
            conditions=conditions,
            outputs=outputs,
            keys=keys,
            durable_name=durable_name,
            durable_rules=_durable_rules(conditions),
            conjunctive=frozenset(i for i, c in enumerate(conditions) if is_conjunctive(c)),
            lines=self.lines,
        )

    def check_wording(self) -> None:
        """The seeds forbid catch-all (兜底) wording in materials and conditions."""
        texts: list[tuple[str, str]] = []
        for i, m in enumerate(self.rs.materials):
            texts.append((f"materials.{i}.title", m.title))
        for i, c in enumerate(self.rs.conditions):
            texts.append((f"conditions.{i}.title", c.title))
            if c.message:
                texts.append((f"conditions.{i}.message", c.message))
        for path, text in texts:
            for word in CATCH_ALL_WORDING:
                if word in text:
                    raise self.fail(f"不得使用兜底表述 {word!r}：材料和条件必须逐项列明", path)

    def order_steps(self) -> tuple[Step, ...]:
        built: dict[str, Step] = {}
        for name, (kind, spec) in self.steps_spec.items():
            built[name] = self.build_step(name, kind, spec)
        order: list[Step] = []
        state: dict[str, int] = {}

        def visit(name: str, chain: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " → ".join([*chain[chain.index(name) :], name])
                raise self.fail(f"循环依赖：{cycle}", f"{self.steps_spec[name][0]}s.{name}")
            state[name] = 1
            for dep in sorted(built[name].deps, key=list(built).index):
                visit(dep, [*chain, name])
            state[name] = 2
            order.append(built[name])

        for name in built:
            visit(name, [])
        return tuple(order)

    def build_step(self, name: str, kind: str, spec: Lookup | Derived | Table) -> Step:
        section = {"lookup": "lookups", "derived": "derived", "table": "tables"}[kind]
        nodes: list[E.Node] = []
        if isinstance(spec, Lookup):
            match = {col: self.parse(e, f"{section}.{name}.match.{col}") for col, e in spec.match.items()}
            where = (
                self.parse(spec.where, f"{section}.{name}.where", frozenset({"row"})) if spec.where else None
            )
            nodes = [*match.values(), *([where] if where else [])]
            step = Step(name, "lookup", spec, frozenset(), match=match, where=where)
        elif isinstance(spec, Derived):
            value = self.parse(spec.expr, f"{section}.{name}.expr")
            nodes = [value]
            step = Step(name, "derived", spec, frozenset(), value=value)
        else:
            rows = []
            for i, row in enumerate(spec.rows):
                when = self.parse(row.when, f"{section}.{name}.rows.{i}.when")
                then = {c: self.parse(e, f"{section}.{name}.rows.{i}.then.{c}") for c, e in row.then.items()}
                rows.append((when, then))
                nodes.extend([when, *then.values()])
            step = Step(name, "table", spec, frozenset(), rows=rows)
        deps = set()
        for node in nodes:
            bound = frozenset({"row"}) if kind == "lookup" else frozenset()
            for p in E.free_paths(node, bound):
                if p.parts[0] in self.steps_spec:
                    deps.add(p.parts[0])
        if name in deps:
            raise self.fail(f"{name} 引用了自身", f"{section}.{name}")
        return Step(
            step.name, step.kind, step.spec, frozenset(deps), step.match, step.where, step.value, step.rows
        )

    # ------------------------------------------------------------------ conditions

    def compile_condition(self, i: int, c: Condition, keys: dict[str, str]) -> CompiledCondition:
        path = f"conditions.{i}.when"
        ast = self.parse(c.when, path)
        leaves: list[Leaf] = []
        try:
            when_pass = _compile_bool(ast, keys, leaves)
            when_fail = _compile_bool(E.negate(ast), keys, [])
        except ExpressionError as exc:
            raise self.fail(exc.message, path, exc.suggestion) from exc
        worst = max(alternatives(when_pass), alternatives(when_fail))
        if worst > MAX_ALTERNATIVES:
            raise self.fail(
                f"条件展开后有 {worst} 种组合（上限 {MAX_ALTERNATIVES}），规则引擎无法高效匹配",
                path,
                "把部分判断写进 derived，再在条件中引用其结果",
            )
        paths = tuple(dict.fromkeys(p.dotted for p in E.free_paths(ast)))
        shown: list[str] = []
        if c.message:
            for placeholder in PLACEHOLDER.findall(c.message):
                self.check_path(E.Path(tuple(placeholder.split("."))), f"conditions.{i}.message")
                if placeholder not in paths:
                    shown.append(placeholder)
        return CompiledCondition(
            c, ast, paths, tuple(leaves), when_pass, when_fail, tuple(dict.fromkeys(shown))
        )


# --------------------------------------------------------------------------- durable_rules JSON


def encode_value(value: Any) -> Any:
    """A known fact value as durable_rules sees it: exact integers, ordinals, strings, booleans."""
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


def _operand(node: E.Node) -> E.Node:
    if isinstance(node, E.Call) and all(isinstance(a, E.Literal) for a in node.args):
        value = E.evaluate(node, {})
        if value is E.MISSING:
            raise ExpressionError(f"常量 {node.name}(...) 无法求值")
        return E.Literal(value)
    if isinstance(node, E.Path | E.Literal):
        return node
    raise ExpressionError(
        "条件中只能比较字段与常量（或两个字段）；计算、计数等请写进 derived，再在条件中引用",
    )


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}


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
        return {"_t": "c"} if truth is True else {"_t": "never"}
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


def _in_operands(node: E.Binary) -> tuple[E.Node, list[E.Node]]:
    left = _operand(node.left)
    if not isinstance(node.right, E.ListExpr) or not node.right.items:
        raise ExpressionError("条件中的 in 右侧必须是非空常量列表，如 ['a', 'b']")
    items = [_operand(i) for i in node.right.items]
    if not all(isinstance(i, E.Literal) for i in items):
        raise ExpressionError("条件中的 in 右侧必须是常量列表")
    return left, items


def _compile_bool(node: E.Node, keys: dict[str, str], leaves: list[Leaf]) -> dict[str, Any]:
    if isinstance(node, E.Binary) and node.op in ("and", "or"):
        parts: list[Any] = []
        for side in (node.left, node.right):
            sub = _compile_bool(side, keys, leaves)
            tag = "$" + node.op
            parts.extend(sub.get(tag, [sub]))
        return {"$" + node.op: parts}
    if isinstance(node, E.Unary) and node.op == "not":
        inner = node.operand
        if isinstance(inner, E.Path):
            leaves.append(Leaf("truth", inner, None))
            return {_key(inner, keys): False}
        if isinstance(inner, E.Binary) and inner.op == "in":
            left, items = _in_operands(inner)
            leaves.append(Leaf("in", left, E.ListExpr(tuple(items))))
            return {"$and": [_compare_json("!=", left, i, keys) for i in items]}
        if isinstance(inner, E.Unary) and inner.op == "not":
            return _compile_bool(inner.operand, keys, leaves)
        pushed = E.negate(inner)
        if isinstance(pushed, E.Unary) and pushed.op == "not" and pushed.operand == inner:
            raise ExpressionError("条件中的 not 只能作用于比较、字段或它们的 and/or 组合")
        return _compile_bool(pushed, keys, leaves)
    if isinstance(node, E.Path):
        leaves.append(Leaf("truth", node, None))
        return {_key(node, keys): True}
    if isinstance(node, E.Literal) and isinstance(node.value, bool):
        return {"_t": "c"} if node.value else {"_t": "never"}
    if isinstance(node, E.Binary) and node.op in E.COMPARISONS:
        left, right = _operand(node.left), _operand(node.right)
        leaves.append(Leaf(node.op, left, right))
        return _compare_json(node.op, left, right, keys)
    if isinstance(node, E.Binary) and node.op == "in":
        left, items = _in_operands(node)
        leaves.append(Leaf("in", left, E.ListExpr(tuple(items))))
        return {"$or": [_compare_json("==", left, i, keys) for i in items]}
    raise ExpressionError("条件必须由比较、字段、and/or/not 组成；计算请写进 derived")


MAX_ALTERNATIVES = 32
"""durable_rules matches a rule in disjunctive normal form: a rule with more alternatives than this
is refused (the matching cost grows with their product)."""


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


def is_conjunctive(c: CompiledCondition) -> bool:
    return alternatives(c.when_pass) == 1


def _durable_rules(conditions: tuple[CompiledCondition, ...]) -> dict[str, Any]:
    """The rules: `ok` fires once when every conjunctive condition holds (the clean-case fast path;
    conditions with alternatives stay out of it, as their product would explode the match); `f<i>`
    fires only when condition i fails; `u` fires when some condition is unknown, so every fact fires
    a rule."""
    marker = {"_t": "c"}
    rules: dict[str, Any] = {}
    conj: list[Any] = [marker]
    for c in conditions:
        if is_conjunctive(c):
            conj.extend(c.when_pass.get("$and", [c.when_pass]))
    rules["ok"] = {"all": [{"m": {"$and": conj}}], "run": "ok"}
    for i, c in enumerate(conditions):
        body = c.when_fail.get("$and", [c.when_fail])
        rules[f"f{i}"] = {"all": [{"m": {"$and": [marker, *body]}}], "run": f"f{i}"}
    rules["u"] = {"all": [{"m": {"$and": [marker, {"_u": 1}]}}], "run": "u"}
    return rules
