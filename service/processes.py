"""Starting the service's own processes (workers, rule-engine processes) so that Ctrl-C is theirs to
ignore from their first instruction.

A terminal sends Ctrl-C (SIGINT) to the whole process group: the API, which stops cleanly, and every
process it started. Those ignore SIGINT (their parent decides when they end), but only once their
start-up has imported enough to say so; a Ctrl-C in their first second printed a KeyboardInterrupt
traceback for each. An ignored signal stays ignored across exec, so the process is started with
SIGINT ignored in the parent for that moment (the few milliseconds of the start: a Ctrl-C within
them is lost, and the next one stops the API): it starts ignoring it, and keeps doing so."""

from __future__ import annotations

import signal
import threading
from multiprocessing import resource_tracker
from typing import Any


def start_ignoring_sigint(process: Any) -> None:
    """`process.start()` (a multiprocessing process) with SIGINT ignored by the new process from the
    start. Only the main thread may change a signal's handling: a process started from another thread
    (a replacement started by the supervisor's watchdog) is started as is."""
    if threading.current_thread() is not threading.main_thread():
        process.start()
        return
    resource_tracker.ensure_running()  # the first start would start it too: not inside the window
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)
