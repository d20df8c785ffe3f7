"""`make demo`: the service on the embedded default with the sample cases submitted over HTTP.

Starts the API, the approvers' pages and a worker process; submits every sample case (with its
documents) as the demo administrator (staff submit on the applicants' behalf; an applicant account
submits only the cases of the subject it is bound to); waits until the engine has decided them all; prints
each case's outcome, the auto-approval rate, the queue page's address and the demo sign-ins of the
staff and of the applicants (the local sign-in of the applicant's door); then
keeps serving until Ctrl-C. Running it again reuses the database: the cases carry their ids, so a
second submission returns the first one instead of creating another.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from service.masking import mask_name, mask_text
from service.settings import Settings, get_settings

OUTCOME_LABEL = {
    "approved": "[green]秒批通过[/]",
    "review": "[yellow]转人工审核[/]",
    "returned": "[cyan]退回补正[/]",
    "rejected": "[red]不予许可[/]",
}
KEY_OUTPUTS = {
    "deed-tax": ("tax_rate", "tax_amount", "relief"),
    "safety-permit-renewal": ("new_valid_to", "required_safety_officers"),
    "graduate-hukou": ("age_limit", "graduation_deadline"),
}
DEMO_PASSWORD = "miaopi-demo"
"""Demo sign-ins only: the demo database is local and throwaway."""
DEMO_USERS = (
    ("tax-approver", "税务审核员（演示）", "approver", "国家税务总局成都市税务局"),
    ("tax-approver-b", "税务B岗（演示）", "approver", "国家税务总局成都市税务局"),
    ("permit-approver", "许可审核员（演示）", "approver", "四川省住房和城乡建设厅"),
    ("talent-approver", "人才引进审核员（演示）", "approver", "深圳市人力资源和社会保障局"),
    ("author", "规则编写人（演示）", "rule_author", None),
    ("auditor", "审计员（演示）", "auditor", None),
    ("admin", "管理员（演示）", "admin", None),
)
DEMO_APPLICANTS = (
    ("wang", "王成帆", "510122198209032792", None, "个人，契税申报：提交即秒批，办结后可好差评"),
    ("yu", "余娜雪", "510106199509110988", None, "个人，契税申报：缺少网签备案时退回补正"),
    (
        "tiancheng",
        "成都天诚建设集团有限公司",
        "91510100MA6E4KXP1J",
        "510120197907272761",
        "企业（法定代表人办理），安全生产许可证延续",
    ),
)
"""Demo applicant accounts of the local sign-in (/login/applicant), each bound to a subject of the shared
data: (account, name, ID number or credit code, acting 法定代表人's ID number, what to try)."""


def ensure_demo_users(services: Any) -> dict[str, str]:
    """Create the demo users when missing; returns their API tokens (derived, so reruns agree)."""
    import hashlib

    from service.transactions import utcnow
    from service.users import add_user
    from store.records import User

    tokens = {}
    for uid, name, role, dept in DEMO_USERS:
        token = "demo-" + hashlib.sha256(f"miaopi-demo:{uid}".encode()).hexdigest()[:24]
        tokens[uid] = token
        with services.sessions() as session:
            if session.get(User, uid) is not None:
                continue
        add_user(
            services,
            user_id=uid,
            display_name=name,
            role=role,
            department=dept,
            password=DEMO_PASSWORD,
            token=token,
            now=utcnow(),
        )
    return tokens


def ensure_demo_applicants(services: Any) -> list[tuple[str, str, str]]:
    """Create the demo applicant accounts when missing, bound to their subjects; returns (account, name,
    what to try) of those that can sign in. A subject the shared data cannot confirm (an enterprise's
    法定代表人 when the data is not loaded) is left out."""
    from service.errors import ServiceError
    from service.transactions import utcnow
    from service.users import add_user, subject_for
    from store.records import User

    ready = []
    for uid, name, subject_id, acting, hint in DEMO_APPLICANTS:
        with services.sessions() as session:
            known = session.get(User, uid) is not None
        if not known:
            try:
                subject = subject_for(services, subject_id=subject_id, acting_id=acting)
                add_user(
                    services,
                    user_id=uid,
                    display_name=name,
                    role="applicant",
                    department=None,
                    password=DEMO_PASSWORD,
                    subject=subject,
                    now=utcnow(),
                )
            except ServiceError:
                continue
        ready.append((uid, name, hint))
    return ready


def applicant_sign_ins(base: str, applicants: list[tuple[str, str, str]]) -> str:
    """What the demo prints for the applicants: the local sign-in's address and the demo accounts."""
    if not applicants:
        return ""
    lines = [f"申请人登录（本地统一身份认证）：{base}/login/applicant  → 我的办件：{base}/my"]
    lines += [f"  {mask_name(name)} {uid} / {DEMO_PASSWORD}（{hint}）" for uid, name, hint in applicants]
    return "\n".join(lines) + "\n"


def sample_submissions(settings: Settings) -> list[tuple[str, dict[str, Any], list[tuple[str, bytes]]]]:
    """The golden cases of every item (samples/<item>/cases); other sample sets, such as the held-out
    documents' cases (samples/heldout), are measurement sets and are not submitted."""
    items = {p.name for p in settings.rulesets_dir.iterdir() if p.is_dir()}
    out = []
    for folder in sorted(
        p for p in settings.samples_dir.iterdir() if p.name in items and (p / "cases").is_dir()
    ):
        for path in sorted((folder / "cases").glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            files = [(d["path"], (path.parent / d["path"]).read_bytes()) for d in data.get("documents", [])]
            out.append((folder.name, data, files))
    return out


def submit_all(base: str, token: str, settings: Settings, console: Console) -> list[str]:
    """Submit every sample case; returns the ids of those accepted. A sample refused on submission
    (422: e.g. an applicant of a kind the item does not serve, a golden case of its own) is printed
    with the first reason and not decided."""
    import httpx

    ids = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for _item, data, files in sample_submissions(settings):
            response = client.post(
                "/api/v1/cases/multipart",
                data={"case": json.dumps(data, ensure_ascii=False)},
                files=[("files", (name, content)) for name, content in files] or None,
                headers={"Idempotency-Key": str(data.get("case_id"))},
            )
            if response.status_code == 422:
                problems = response.json().get("problems") or [{}]
                why = problems[0].get("message", response.text[:200])
                console.print(
                    f"[yellow]不予受理[/] {data.get('case_id')}：{why}",
                    highlight=False,
                )
                continue
            if response.status_code >= 300:
                console.print(
                    f"[red]提交失败[/] {data.get('case_id')}: {response.status_code} {response.text[:200]}"
                )
                continue
            ids.append(response.json()["case_id"])
    return ids


def wait_decided(services: Any, ids: list[str], console: Console, timeout: float = 900) -> None:
    from sqlalchemy import func, select

    from store.records import CaseRow

    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        with services.sessions() as session:
            pending = (
                session.scalar(
                    select(func.count())
                    .select_from(CaseRow)
                    .where(CaseRow.id.in_(ids), CaseRow.status.in_(("queued", "processing")))
                )
                or 0
            )
        if pending == 0:
            return
        if pending != last:
            console.print(f"引擎处理中：还有 {pending} 件……", highlight=False)
            last = pending
        time.sleep(1)
    console.print("[red]等待超时：仍有案件未处理[/]")


def print_report(services: Any, ids: list[str], console: Console) -> Counter[str]:
    from sqlalchemy import select

    from store.records import CaseRow, DecisionRow

    totals: Counter[str] = Counter()
    with services.sessions() as session:
        rows = session.execute(
            select(CaseRow, DecisionRow)
            .join(DecisionRow, DecisionRow.case_id == CaseRow.id, isouter=True)
            .where(CaseRow.id.in_(ids))
            .order_by(CaseRow.item, CaseRow.id)
        ).all()
    by_item: dict[str, list[Any]] = {}
    for case, decision in rows:
        by_item.setdefault(case.item, []).append((case, decision))
    for item, entries in by_item.items():
        table = Table(title=item)
        for col in ("案件", "申请人", "结果", "主要结果值", "原因（前两条）", "ms"):
            table.add_column(col, overflow="fold")
        counts: Counter[str] = Counter()
        for case, decision in entries:
            applicant = case.payload.get("applicant", {})
            names = [
                str(applicant.get("name", "")),
                *[str(s.get("name", "")) for s in case.payload.get("form", {}).get("staff", []) or []],
            ]
            if decision is None:
                counts[case.status] += 1
                table.add_row(
                    case.id, mask_name(names[0]), f"[red]{case.status}[/]", "", case.error or "", ""
                )
                continue
            d = decision.decision
            outcome = case.engine_outcome or decision.outcome
            counts[outcome] += 1
            outputs = ", ".join(
                f"{k}={d['outputs'][k]}" for k in KEY_OUTPUTS.get(item, ()) if k in d["outputs"]
            )
            reasons = "；".join(mask_text(r["message"], names=names) for r in d["reasons"][:2])
            if len(d["reasons"]) > 2:
                reasons += f"（共 {len(d['reasons'])} 条）"
            table.add_row(
                case.id,
                mask_name(names[0]),
                OUTCOME_LABEL.get(outcome, outcome),
                outputs,
                reasons,
                f"{decision.elapsed_ms:.1f}",
            )
        console.print(table)
        n = sum(counts.values())
        console.print(
            f"{item}: {n} 件，秒批 {counts['approved']} 件，秒批率 {counts['approved'] / n:.0%}；"
            + "，".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + "\n"
        )
        totals.update(counts)
    return totals


def _free_port(host: str, wanted: int) -> int:
    for port in range(wanted, wanted + 50):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port from {wanted}")


STOPPED = "演示服务已停止。"
"""Printed when Ctrl-C ends the demo (exit code 130, as for any program a Ctrl-C ends)."""


def main(argv: list[str] | None = None) -> int:
    """The demo; Ctrl-C at any moment stops it with one line instead of a traceback."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        # uvicorn stops cleanly on Ctrl-C and then raises it again for the caller: this is the caller
        Console(stderr=True).print(STOPPED, highlight=False)
        return 130


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description="serve the demo: sample cases submitted, queue page ready")
    parser.add_argument("--db", default="sqlite:///var/demo.db", help="SQLAlchemy URL (shared data loaded)")
    parser.add_argument("--files", default="var/demo-files", help="folder for uploaded files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-serve", action="store_true", help="submit, decide, report, then stop")
    args = parser.parse_args(argv)

    import uvicorn

    from api.app import create_app
    from miaopi.worker import WorkerSupervisor
    from service.container import create_services

    port = _free_port(args.host, args.port)
    base = f"http://{args.host}:{port}"
    settings = get_settings().model_copy(
        update={"database_url": args.db, "files_dir": Path(args.files), "public_base_url": base}
    )
    console = Console(width=max(Console().width, 150))
    services = create_services(settings)
    tokens = ensure_demo_users(services)
    applicants = ensure_demo_applicants(services)
    supervisor = WorkerSupervisor(settings, processes=1)
    app = create_app(settings, services=services, supervisor=supervisor)
    server = uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=port, log_level="warning", access_log=False)
    )

    def drive() -> None:
        try:
            submit_and_report()
        except Exception:
            if not server.should_exit:
                raise
            # stopped (Ctrl-C) while the samples were being submitted or decided: nothing to report

    def submit_and_report() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        console.print(f"服务已启动：{base}（提交样例案件……）")
        ids = submit_all(base, tokens["admin"], settings, console)
        wait_decided(services, ids, console)
        totals = print_report(services, ids, console)
        n = sum(totals.values())
        rate = totals["approved"] / n if n else 0.0
        console.print(
            f"[bold]合计 {n} 件，自动批准 {totals['approved']} 件，秒批率（auto-approval rate）{rate:.1%}[/]"
        )
        console.print(json.dumps(dict(totals), ensure_ascii=False))
        if args.no_serve:
            console.print("（--no-serve：服务随即停止；去掉该选项可继续打开审核队列）", highlight=False)
            server.should_exit = True
            return
        console.print(
            f"\n审核队列：{base}/queue\n"
            f"  税务审核员 tax-approver / {DEMO_PASSWORD}（B岗 tax-approver-b）\n"
            f"  许可审核员 permit-approver / {DEMO_PASSWORD}\n"
            f"  人才引进审核员 talent-approver / {DEMO_PASSWORD}\n"
            f"  差评回访：{base}/follow-ups  好差评统计：{base}/ratings\n"
            f"  API 文档：{base}/docs  指标：{base}/metrics\n"
            + applicant_sign_ins(base, applicants)
            + "按 Ctrl-C 停止。",
            highlight=False,
        )

    threading.Thread(target=drive, name="demo-submit", daemon=True).start()
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
