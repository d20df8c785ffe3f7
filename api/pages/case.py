"""The case page: the case and its decision condition by condition (values and where each came from),
the shared-data records the decision read, the documents with the extracted fields outlined on their
pages, the tasks with their claim and decide forms, and the result documents."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api import presenters as p
from api.deps import ServicesDep, SessionDep
from api.pages.common import error_page, now, render, staff
from engine.model import Ruleset
from service import access, cases, documents
from service.container import Services
from service.errors import ServiceError
from service.users import User

router = APIRouter(include_in_schema=False)


def _documents_view(
    services: Services,
    session: Session,
    *,
    case_id: str,
    facts: dict[str, Any],
    ruleset: Ruleset | None,
    flagged: set[tuple[str, int, tuple[float, ...]]],
) -> tuple[list[dict[str, Any]], dict[tuple[str, int, tuple[float, ...]], str]]:
    docs = documents.case_documents(services, session, case_id=case_id)
    read = facts.get("documents") or {}
    anchors: dict[tuple[str, int, tuple[float, ...]], str] = {}
    out = []
    for d in docs:
        doc_facts = read.get(d.kind) or {}
        if doc_facts.get("path") not in (None, d.ref):
            doc_facts = {}
        titles = p.doc_field_titles(ruleset, d.kind)
        pages_total, problem = documents.pages_of(services, d)
        located: dict[int, list[p.Located]] = {}
        sizes: dict[int, tuple[float, float]] = {}
        fields = []
        number = 0
        for name, loc in (doc_facts.get("locations") or {}).items():
            number += 1
            value = (doc_facts.get("fields") or {}).get(name)
            page = int(loc.get("page") or 1)
            box = [float(b) for b in loc.get("box") or []]
            key = (d.kind, page, tuple(box))
            anchor = f"doc{d.id}-{name}"
            anchors.setdefault(key, anchor)
            item = {
                "number": number,
                "name": name,
                "title": titles.get(name, name),
                "value": p.show(value),
                "raw": str(loc.get("raw", "")),
                "confidence": loc.get("confidence"),
                "page": page,
                "flagged": key in flagged,
                "anchor": anchor,
            }
            fields.append(item)
            if len(box) == 4 and 1 <= page <= pages_total:
                size = documents.page_size(services, d, page)
                if size is None:
                    continue
                width, height = size
                if width > 0 and height > 0:
                    sizes[page] = (width, height)
                    x0, y0 = max(0.0, min(box[0], box[2])), max(0.0, min(box[1], box[3]))
                    placed = located.setdefault(page, [])
                    w = min(abs(box[2] - box[0]), width - x0)
                    h = min(abs(box[3] - box[1]), height - y0)
                    same = next((b for b in placed if (b.x, b.y, b.w, b.h) == (x0, y0, w, h)), None)
                    if same is not None:  # several fields read from one line share one outline
                        same.number += f"、{number}"
                        same.title += f"、{item['title']}"
                        same.value += f"；{item['value']}"
                        same.flagged = same.flagged or bool(item["flagged"])
                        continue
                    placed.append(
                        p.Located(
                            number=str(number),
                            name=name,
                            title=str(item["title"]),
                            value=str(item["value"]),
                            raw=str(item["raw"]),
                            confidence=item["confidence"],
                            page=page,
                            x=x0,
                            y=y0,
                            w=w,
                            h=h,
                            flagged=bool(item["flagged"]),
                            anchor=anchor,
                        )
                    )
        out.append(
            {
                "id": d.id,
                "kind": d.kind,
                "title": p.material_title(ruleset, d.kind),
                "name": d.ref.rsplit("/", 1)[-1],
                "media_type": d.media_type,
                "size": d.size,
                "method": {"ocr": "OCR 识别", "text": "PDF 文字层"}.get(str(doc_facts.get("method")), "—"),
                "pages": [
                    {
                        "number": p,
                        "url": f"/cases/{quote(case_id, safe='')}/documents/{d.id}/pages/{p}",
                        "boxes": located.get(p, []),
                        "size": sizes.get(p),
                    }
                    for p in range(1, pages_total + 1)
                ],
                "fields": fields,
                "problems": [p.get("message", "") for p in doc_facts.get("problems") or []],
                "error": (doc_facts.get("error") or {}).get("message") or problem,
            }
        )
    return out, anchors


def case_page_for(
    request: Request,
    services: Services,
    session: Session,
    *,
    user: User,
    case_id: str,
    error: str | None = None,
    problems: list[dict[str, str]] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    at = now()
    try:
        record = cases.case_record(services, session, user=user, case_id=case_id, now=at)
    except ServiceError as exc:
        return error_page(request, exc)
    row, facts, ruleset = record.row, record.facts, record.ruleset
    view = record.view.model_dump()
    decision = view["decision"] or {}
    conditions = decision.get("conditions") or []
    flagged = p.flagged_boxes(conditions)
    documents_shown, anchors = _documents_view(
        services, session, case_id=row.id, facts=facts, ruleset=ruleset, flagged=flagged
    )
    reasons = decision.get("reasons") or []
    messages: dict[str, list[str]] = {}
    for r in reasons:
        messages.setdefault(str(r.get("condition")), []).append(str(r.get("message", "")))
    cond_rows = []
    labels = p.value_labels(ruleset)
    for c in conditions:
        cond_rows.append(
            {
                "id": c.get("id"),
                "title": c.get("title"),
                "status": c.get("status"),
                "on_fail": c.get("on_fail"),
                "values": [(k, p.fact_text(k, v, labels)) for k, v in (c.get("values") or {}).items()],
                "sources": [
                    (k, p.source_view(s, ruleset=ruleset, anchors=anchors))
                    for k, s in (c.get("sources") or {}).items()
                ],
                "basis": c.get("basis"),
                "messages": messages.get(str(c.get("id")), []),
                "note": c.get("note"),
                "missing": c.get("missing") or [],
            }
        )
    outputs = []
    for name, value in (decision.get("outputs") or {}).items():
        out = ruleset.outputs.get(name) if ruleset else None
        outputs.append((out.title if out else name, p.output_text(out.labels if out else None, value)))
    tasks = []
    for t in record.view.tasks:
        tv = t.model_dump()
        tv["due"] = t.due_at
        tv["days_left"] = p.days_left(t.due_at, at) if t.status != "done" else None
        tv["mine"] = t.status == "claimed" and t.claimed_by == user.id
        tv["choices"] = p.DECISION_CHOICES[t.kind]
        tv["can_claim"] = access.may_claim(user, t)
        tasks.append(tv)
    applicant = row.payload.get("applicant", {}) if isinstance(row.payload, dict) else {}
    form_values = []
    for name, value in (row.payload.get("form", {}) if isinstance(row.payload, dict) else {}).items():
        spec = ruleset.fields.get(name) if ruleset else None
        shown = spec.choices.get(str(value), p.show(value)) if spec and spec.choices else p.show(value)
        form_values.append((spec.title if spec else name, shown))
    return render(
        request,
        "case.html",
        {
            "case": view,
            "row": row,
            "item_name": ruleset.item.name if ruleset else row.item,
            "applicant": applicant,
            "form_values": form_values,
            "commitments": row.payload.get("commitments", []) if isinstance(row.payload, dict) else [],
            "decision": decision,
            "outputs": outputs,
            "reasons": reasons,
            "conditions": cond_rows,
            "materials": decision.get("materials") or [],
            "records": p.records_view(facts),
            "documents": documents_shown,
            "tasks": tasks,
            "results": view["results"],
            "error": error,
            "problems": problems or [],
            "form": form or {},
            "message": p.MESSAGES.get(request.query_params.get("msg", "")),
            "can_decide": access.may_decide(user),
        },
        status=status,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = staff(request, session)
    return case_page_for(request, services, session, user=user, case_id=case_id)


@router.get("/cases/{case_id}/documents/{doc_id}/pages/{page}")
def document_page(
    case_id: str, doc_id: int, page: int, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    """A page of an uploaded document as an image, read from the content-addressed store (the
    client's file name never reaches the file system)."""
    user, _ws = staff(request, session)
    try:
        data = documents.page_jpeg(services, session, user=user, case_id=case_id, doc_id=doc_id, page=page)
    except ServiceError as exc:
        return error_page(request, exc)
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
