"""A ruleset checked and compiled: expressions parsed, names resolved, steps ordered, conditions
reduced to comparisons of fields and constants. Built once per ruleset version and shared by every
decision. The program is backend-neutral: an evaluation backend compiles it further on first use
(engine.backends.durable), and `build_program` refuses what the production backend cannot match."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, TypeVar

from engine import expr as E
from engine.backends import durable
from engine.conditions import Leaf, normal_form
from engine.errors import ExpressionError, RulesetError
from engine.loader import canonical_sha256, line_for, load_ruleset
from engine.model import PLACEHOLDER, Condition, Derived, Lookup, Material, Output, Ruleset, Table
from engine.registries import REGISTRIES
from engine.typecheck import check_types

CASE_FIELDS = ("case_id", "submitted_at", "submitted_on", "commitments")
APPLICANT_FIELDS = ("kind", "name", "id_number", "credit_code")
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


Operand = tuple[str | None, E.Node]


@dataclass(frozen=True)
class CompiledCondition:
    spec: Condition
    ast: E.Node
    paths: tuple[str, ...]
    leaves: tuple[Leaf, ...]
    shown: tuple[str, ...] = ()
    """Further values the failure message cites (shown, but not inputs of the condition)."""

    @cached_property
    def cited(self) -> tuple[str, ...]:
        """Every path a decision cites for this condition: its inputs, then the shown values."""
        return tuple(dict.fromkeys((*self.paths, *self.shown)))

    @cached_property
    def memos(self) -> dict[str, Any]:
        """What evaluation backends derive from this condition, by backend (kept with it)."""
        return {}

    # The production backend's rules for the condition holding and failing (compiled with the
    # program's keys when the program is built), read off the condition by callers that predate
    # the backends package; engine.backends.durable owns them.
    @property
    def when_pass(self) -> dict[str, Any]:
        when_pass: dict[str, Any] = self.memos["durable"][0]
        return when_pass

    @property
    def when_fail(self) -> dict[str, Any]:
        when_fail: dict[str, Any] = self.memos["durable"][1]
        return when_fail

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
    lines: dict[tuple[str, ...], int]

    @property
    def item(self) -> str:
        return self.ruleset.item.id

    # The production backend's compiled form, read off the program by callers that predate the
    # backends package; engine.backends.durable owns it (`rules_for`).
    @property
    def durable_name(self) -> str:
        return _durable(self).name

    @property
    def durable_rules(self) -> dict[str, Any]:
        return _durable(self).rules

    @property
    def keys(self) -> dict[str, str]:
        """dotted fact path → durable_rules field name."""
        return _durable(self).keys

    @property
    def conjunctive(self) -> frozenset[int]:
        return _durable(self).conjunctive

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


def build_program(text: str, *, source: str, typecheck: bool = True) -> Program:
    """Load, check and compile a ruleset. Raises RulesetError naming file, line and path; a ruleset
    with type errors (engine.typecheck) raises the first, with every other in `others`.

    `typecheck=False` is for content published before (service/rulesets.py): it was accepted when
    it was published, and the cases and decisions recorded under it must still decide and replay."""
    rs, lines = load_ruleset(text, source=source)
    return _Builder(rs, lines, source).build(typecheck=typecheck)


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
        line = line_for(self.lines, tuple(path.split(".")))
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

    def build(self, *, typecheck: bool = True) -> Program:
        rs = self.rs
        self.check_wording()
        for name, lk in rs.lookups.items():
            if lk.registry not in REGISTRIES:
                raise self.fail(
                    f"未知的共享数据库 {lk.registry!r}（新的库须先声明：在本事项文件夹的 registries/ 中"
                    f"放入 {lk.registry}.yaml，格式见 docs/architecture.md 第 8 节）",
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
        too_many = durable.check_program_size(len(rs.conditions))
        if too_many:
            raise self.fail(too_many, "conditions")
        keys: dict[str, str] = {}
        conditions = tuple(self.compile_condition(i, c, keys) for i, c in enumerate(rs.conditions))
        outputs = tuple(
            (name, o, self.parse(o.expr, f"outputs.{name}.expr")) for name, o in rs.outputs.items()
        )
        sha = canonical_sha256(rs)
        program = Program(
            ruleset=rs,
            sha256=sha,
            source=self.source,
            steps=steps,
            materials=materials,
            conditions=conditions,
            outputs=outputs,
            lines=self.lines,
        )
        if typecheck:
            errors = check_types(program)
            if errors:
                first = errors[0]
                first.others = tuple(errors[1:])
                raise first
        durable.rules_for(program)  # compiled here, so a program is ready for the production backend
        return program

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
        """A condition reduced to its leaves, and checked against the production backend (its rules
        are compiled here once, with the keys of the conditions before it, only to refuse what
        durable_rules cannot match)."""
        path = f"conditions.{i}.when"
        ast = self.parse(c.when, path)
        leaves: list[Leaf] = []
        try:
            normal_form(ast, leaves)
            normal_form(E.negate(ast))
            durable.compile_condition(ast, keys)
        except ExpressionError as exc:
            raise self.fail(exc.message, path, exc.suggestion) from exc
        paths = tuple(dict.fromkeys(p.dotted for p in E.free_paths(ast)))
        shown: list[str] = []
        if c.message:
            for placeholder in PLACEHOLDER.findall(c.message):
                self.check_path(E.Path(tuple(placeholder.split("."))), f"conditions.{i}.message")
                if placeholder not in paths:
                    shown.append(placeholder)
        return CompiledCondition(c, ast, paths, tuple(leaves), tuple(dict.fromkeys(shown)))


def _durable(program: Program) -> durable.DurableRules:
    return durable.rules_for(program)
