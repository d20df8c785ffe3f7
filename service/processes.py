"""Starting the service's own processes (workers, rule-engine processes) so that Ctrl-C is theirs to
ignore from their first instruction.

A terminal sends Ctrl-C (SIGINT) to the whole process group: the API, which stops cleanly, and every
process it started. Those ignore SIGINT (their parent decides when they end), but only once their
start-up has imported enough to say so; a Ctrl-C in their first second printed a KeyboardInterrupt
traceback for each. An ignored signal stays ignored across exec, so the process is started with
SIGINT ignored in the parent for that moment (the few milliseconds of the start: a Ctrl-C within
them is lost, and the next one stops the API): it starts ignoring it, and keeps doing so."""

from __future__ import annotations

from extractors.ocr.worker import start_ignoring_sigint

__all__ = ["start_ignoring_sigint"]
