"""`make demo` stopped with Ctrl-C: one line in Chinese and exit code 130, no traceback, nothing left
running. (A terminal sends Ctrl-C to the whole process group: the demo, its worker, the rule-engine
and OCR processes.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from process_kit import wait_gone

from miaopi.demo import STOPPED
from service.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def test_ctrl_c_stops_the_demo_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    """uvicorn stops on Ctrl-C, then raises it again for its caller: the demo printed that
    KeyboardInterrupt's traceback (and its submitting thread one of its own)."""
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "miaopi.demo",
                "--db",
                f"sqlite:///{tmp_path / 'demo.db'}",
                "--files",
                str(tmp_path / "files"),
                "--port",
                str(_free_port()),
            ],
            cwd=PROJECT_ROOT,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # a process group of its own, as a shell gives a command
        )
    try:
        deadline = time.monotonic() + 120
        while "服务已启动" not in out.read_text(encoding="utf-8", errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()[-3000:]
            time.sleep(0.1)
        time.sleep(1.0)  # the sample cases are being submitted and decided
        started = _descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        code = proc.wait(60)
        printed = out.read_text(encoding="utf-8", errors="replace") + err.read_text(
            encoding="utf-8", errors="replace"
        )
        assert code == 130, printed[-3000:]
        assert "Traceback" not in printed and "KeyboardInterrupt" not in printed, printed[-3000:]
        assert err.read_text(encoding="utf-8").strip().endswith(STOPPED), printed[-3000:]
        assert started and not wait_gone(sorted(started), 30), "a process of the demo outlived it"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_the_demo_prints_applicant_sign_ins_that_work(tmp_path: Path) -> None:
    """The applicant accounts the demo prints sign in at the local sign-in, bound to their subjects;
    running the demo again keeps them."""
    from miaopi.demo import DEMO_PASSWORD, applicant_sign_ins, ensure_demo_applicants
    from service.container import create_services
    from service.identity import LocalIdentity, applicant_for
    from service.settings import Settings
    from store.loader import load_directory

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.db'}", files_dir=tmp_path / "files")
    services = create_services(settings)
    try:
        load_directory(services.engine, PROJECT_ROOT / "samples" / "shared-data")
        ready = ensure_demo_applicants(services)
        assert [uid for uid, _name, _hint in ready] == ["wang", "yu", "tiancheng"]
        assert ensure_demo_applicants(services) == ready  # a second run reuses the accounts
        printed = applicant_sign_ins("http://127.0.0.1:8000", ready)
        assert "申请人登录（本地统一身份认证）：http://127.0.0.1:8000/login/applicant" in printed
        assert f"wang / {DEMO_PASSWORD}" in printed and f"tiancheng / {DEMO_PASSWORD}" in printed
        assert "王成帆" not in printed and "王*帆" in printed
        for uid, _name, _hint in ready:
            assertion = LocalIdentity().finish(services, {"user_id": uid, "password": DEMO_PASSWORD})
            assert assertion is not None, uid
            user = applicant_for(services, assertion)
            assert user.role == "applicant" and user.subject_kind is not None
        assert LocalIdentity().finish(services, {"user_id": "wang", "password": "wrong"}) is None
    finally:
        services.engine.dispose()
