"""The case (application) contract (docs/architecture.md), and its validation against a ruleset's fields."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.errors import CaseError
from engine.expr import suggest
from engine.identifiers import credit_code_problem, id_number_problem
from engine.model import FieldSpec, Ruleset

CHINA_TZ = timezone(timedelta(hours=8))
MAX_NUMBER = Decimal("1e12")


class Applicant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["person", "enterprise"]
    name: str = Field(min_length=1, max_length=200)
    id_number: str | None = None
    credit_code: str | None = None

    @field_validator("id_number")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        problem = id_number_problem(v) if v is not None else None
        if problem:
            raise ValueError(f"身份证号码无效：{problem}")
        return v

    @field_validator("credit_code")
    @classmethod
    def _uscc(cls, v: str | None) -> str | None:
        problem = credit_code_problem(v) if v is not None else None
        if problem:
            raise ValueError(f"统一社会信用代码无效：{problem}")
        return v

    @model_validator(mode="after")
    def _kind(self) -> Applicant:
        if self.kind == "person" and not self.id_number:
            raise ValueError("个人申请人必须提供 id_number")
        if self.kind == "enterprise" and not self.credit_code:
            raise ValueError("企业申请人必须提供 credit_code")
        return self


class DocumentRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1, max_length=64)
    path: str = Field(min_length=1, max_length=500)


def _bad_text_path(value: Any, path: str = "") -> str | None:
    """Path of the first string that is not valid Unicode text (e.g. a lone surrogate from JSON)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "$"
        return None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for k, v in items:
        found = _bad_text_path(v, f"{path}.{k}" if path else str(k))
        if found:
            return found
    return None


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _valid_text(cls, data: Any) -> Any:
        bad = _bad_text_path(data)
        if bad:
            raise ValueError(f"{bad} 含有无效的 Unicode 字符")
        return data

    item: str = Field(min_length=1, max_length=64)
    case_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[0-9A-Za-z_.:\-]+$")
    submitted_at: datetime
    applicant: Applicant
    form: dict[str, Any]
    documents: list[DocumentRef] = Field(default_factory=list, max_length=100)
    commitments: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )

    @field_validator("submitted_at", mode="before")
    @classmethod
    def _iso_text(cls, v: Any) -> Any:
        """An ISO 8601 text, as the contract says (pydantic alone would also read a number, or a text
        of digits, as a Unix time)."""
        if isinstance(v, datetime):
            return v
        if not isinstance(v, str):
            raise ValueError("submitted_at 应为 ISO 8601 日期时间文本，如 2026-11-21T10:00:00+08:00")
        try:
            return datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"submitted_at 不是 ISO 8601 日期时间：{v!r}") from None

    @field_validator("submitted_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("submitted_at 必须带时区，如 2026-11-21T10:00:00+08:00")
        return v

    @property
    def submitted_on(self) -> date:
        """The submission date in China Standard Time."""
        return self.submitted_at.astimezone(CHINA_TZ).date()


MAX_DEPTH = 32
"""The deepest nesting of objects and lists a case may have (the contract itself needs four levels):
deeper data is refused before any validation walks it."""


def too_deep(data: Any, *, limit: int = MAX_DEPTH) -> str | None:
    """The path of the first object or list nested deeper than `limit`, or None; iterative, so any
    depth is checked without recursion."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        if depth > limit:
            return path or "(顶层)"
        for key, child in children:
            stack.append((child, f"{path}.{key}" if path else str(key), depth + 1))
    return None


def parse_case(data: Any, *, ruleset: Ruleset | None = None) -> Case:
    """Validate case JSON data; every problem is reported at once, each with its path. Given the
    item's ruleset, the applicant's kind and the declared form are checked in the same pass
    (一次性告知)."""
    deep = too_deep(data)
    if deep is not None:
        raise case_error([{"path": deep, "message": f"嵌套层数超过 {MAX_DEPTH} 层"}])
    problems: list[dict[str, str]] = []
    case: Case | None = None
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc))
    if ruleset is not None and isinstance(data, dict):
        applicant = data.get("applicant")
        if isinstance(applicant, dict):
            _check_applicant_kind(ruleset, applicant.get("kind"), problems)
        if isinstance(data.get("form"), dict):
            _validate_fields(ruleset.fields, data["form"], "form", problems)
    if problems or case is None:
        raise case_error(problems)
    return case


APPLICANT_KINDS = {"person": "个人", "enterprise": "企业"}
"""The kinds of applicant (the case contract's applicant.kind), by their Chinese names."""


def _check_applicant_kind(rs: Ruleset, kind: Any, problems: list[dict[str, str]]) -> None:
    """An item serves one kind of applicant (item.applicant_kind): a case of the other kind is refused
    before anything is looked up or decided."""
    served = rs.item.applicant_kind
    if kind in APPLICANT_KINDS and kind != served:
        problems.append(
            {
                "path": "applicant.kind",
                "message": f"本事项（{rs.item.name}）只受理{APPLICANT_KINDS[served]}申请"
                f"（applicant.kind 应为 {served}），申请人类型为{APPLICANT_KINDS[kind]}（{kind}）",
            }
        )


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "不认识的字段"
        elif err["type"] == "missing":
            msg = "缺少必填字段"
        problems.append({"path": path, "message": msg})
    return problems


def case_error(problems: list[dict[str, str]]) -> CaseError:
    text = "；".join(f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems)
    err = CaseError(text)
    err.problems = problems  # type: ignore[attr-defined]
    return err


def validate_form(rs: Ruleset, form: dict[str, Any]) -> dict[str, Any]:
    """Declared form → typed values (Decimal, date, bool, str, lists). Raises CaseError listing every
    problem with its path (`form.area_m2`)."""
    problems: list[dict[str, str]] = []
    out = _validate_fields(rs.fields, form, "form", problems)
    if problems:
        raise case_error(problems)
    return out


def validate_case(rs: Ruleset, case: Case) -> dict[str, Any]:
    """A parsed case against its item: the applicant's kind, then the declared form (as `validate_form`).
    Every decision goes through it, whatever made the case; raises CaseError listing every problem."""
    problems: list[dict[str, str]] = []
    _check_applicant_kind(rs, case.applicant.kind, problems)
    out = _validate_fields(rs.fields, case.form, "form", problems)
    if problems:
        raise case_error(problems)
    return out


def _validate_fields(
    specs: dict[str, FieldSpec], data: Any, prefix: str, problems: list[dict[str, str]]
) -> dict[str, Any]:
    if not isinstance(data, dict):
        problems.append({"path": prefix, "message": "应为对象（键: 值）"})
        return {}
    out: dict[str, Any] = {}
    for key in data:
        if key not in specs:
            hint = suggest(key, list(specs))
            problems.append(
                {"path": f"{prefix}.{key}", "message": "本事项没有这个字段" + (f"，{hint}" if hint else "")}
            )
    for name, spec in specs.items():
        path = f"{prefix}.{name}"
        if name not in data:
            if spec.required:
                problems.append({"path": path, "message": f"缺少必填字段（{spec.title}）"})
            continue
        value = data[name]
        if value is None:
            if not spec.nullable:
                problems.append({"path": path, "message": f"{spec.title}不能为空"})
            else:
                out[name] = None
            continue
        try:
            out[name] = _coerce(spec, value, path, problems)
        except ValueError as exc:
            problems.append({"path": path, "message": f"{spec.title}：{exc}"})
    return out


def _decimal(value: Any, places: int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('应为十进制数字字符串，如 "96.30"')
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"不是数字：{value!r}") from None
    if not d.is_finite():
        raise ValueError("不是有限数字")
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and -exp > places:
        raise ValueError(f"小数位数不能超过 {places} 位：{value!r}")
    if abs(d) >= MAX_NUMBER:
        raise ValueError(f"数值过大：{value!r}")
    return d


def _coerce(spec: FieldSpec, value: Any, path: str, problems: list[dict[str, str]]) -> Any:
    t = spec.type
    if t in ("string", "enum", "id_number", "credit_code"):
        if not isinstance(value, str):
            raise ValueError(f"应为字符串，实际为 {type(value).__name__}")
        if len(value) > spec.max_length:
            raise ValueError(f"长度不能超过 {spec.max_length}")
        if t == "string" and not value.strip():
            raise ValueError("不能为空字符串")
        if t == "enum" and spec.choices and value not in spec.choices:
            raise ValueError(f"应为 {', '.join(spec.choices)} 之一，实际为 {value!r}")
        problem = {"id_number": id_number_problem, "credit_code": credit_code_problem}.get(t, lambda _: None)(
            value
        )
        if problem:
            raise ValueError(f"无效：{problem}")
        return value
    if t in ("decimal", "money", "integer"):
        if t == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"应为整数，实际为 {value!r}")
            number = Decimal(value)
            if abs(number) >= MAX_NUMBER:
                raise ValueError("数值过大")
        else:
            number = _decimal(value, 2 if t == "money" else 4)
        if spec.min is not None and number < spec.min:
            raise ValueError(f"不能小于 {spec.min}")
        if spec.max is not None and number > spec.max:
            raise ValueError(f"不能大于 {spec.max}")
        return number
    if t == "date":
        if not isinstance(value, str):
            raise ValueError("应为日期字符串 YYYY-MM-DD")
        try:
            return date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
        except ValueError:
            raise ValueError(f"日期格式应为 YYYY-MM-DD，实际为 {value!r}") from None
    if t == "boolean":
        if not isinstance(value, bool):
            raise ValueError("应为 true 或 false")
        return value
    # list
    if not isinstance(value, list):
        raise ValueError("应为列表")
    if len(value) > spec.max_items:
        raise ValueError(f"最多 {spec.max_items} 项")
    assert spec.items is not None
    return [_validate_fields(spec.items, v, f"{path}.{i}", problems) for i, v in enumerate(value)]


def _bad_date(value: str) -> date:
    raise ValueError(value)
