"""Error types that map one-to-one onto the CLI's exit codes.

0 ok · 1 operation failed (for deploys: failed and safely rolled back) · 2 bad input or
configuration · 3 failed and not safely recovered (a human is needed).
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_HUMAN_NEEDED = 3


class PipelineError(Exception):
    """Base error; ``result`` (optional) is merged into the JSON result printed on failure."""

    exit_code = EXIT_FAILED
    kind = "failed"

    def __init__(self, message: str, *, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result or {}


class BadInput(PipelineError):
    """Bad input or configuration: nothing was changed."""

    exit_code = EXIT_BAD_INPUT
    kind = "bad_input"


class OperationFailed(PipelineError):
    """The operation failed; whatever it changed was put back (or it changed nothing)."""

    exit_code = EXIT_FAILED
    kind = "failed"


class HumanNeeded(PipelineError):
    """The operation failed and could not restore a known-good state."""

    exit_code = EXIT_HUMAN_NEEDED
    kind = "human_needed"


class Aborted(BaseException):
    """Raised from a SIGINT/SIGTERM handler so the running phase can unwind and roll back.

    A BaseException so that ``except Exception`` in a poller does not swallow it.
    """

    def __init__(self, signame: str) -> None:
        super().__init__(f"aborted by {signame}")
        self.signame = signame
