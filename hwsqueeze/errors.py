"""The one exception type users see, and the CLI's exit codes (one per class of failure).

``hwsqueeze`` prints a :class:`HwsqueezeError` as a single ``error: ...`` line and exits with its
``exit_code``; anything else is an internal error (exit 70, one line; ``--debug`` shows the
traceback).
"""
from __future__ import annotations

from typing import Tuple

__all__ = ["HwsqueezeError", "BAD_INPUT", "NO_FIT", "MISSING_TOOL", "VERIFY_FAILED", "TIMING_FAILED", "INTERNAL",
           "INTERRUPTED", "EXIT_CODES", "failure"]

BAD_INPUT = 2  # a file, option or value that is wrong or missing (also click's usage errors)
NO_FIT = 3  # a design that cannot meet the target on the board
MISSING_TOOL = 4  # a required tool (vivado, vitis_hls, pynq) is not available
VERIFY_FAILED = 5  # hardware and reference (or a build stage and its truth) disagree
TIMING_FAILED = 6  # Vivado's routed design misses timing (negative setup or hold slack): no usable bitstream
INTERNAL = 70  # a bug in hwsqueeze or a library it calls (sysexits EX_SOFTWARE)
INTERRUPTED = 130  # Ctrl-C

EXIT_CODES = {0: "success", 1: "aborted by the user (Ctrl-C exits 130)", BAD_INPUT: "bad input", NO_FIT: "does not fit",
              MISSING_TOOL: "missing tool", VERIFY_FAILED: "verification failed", TIMING_FAILED: "timing not met",
              INTERNAL: "internal error"}


class HwsqueezeError(Exception):
    """A user-facing error (bad input, missing tool, failed check). ``exit_code`` is the CLI's."""

    exit_code = BAD_INPUT

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def failure(e: BaseException, debug_hint: str = "--debug") -> Tuple[str, int]:
    """The one line (``error: ...``) and exit code for an exception that ended a command; shared by
    ``hwsqueeze`` and the board command ``python -m hwsqueeze.runtime`` so both follow one table."""
    if isinstance(e, HwsqueezeError):
        return f"error: {_one_line(str(e))}", e.exit_code or BAD_INPUT
    if isinstance(e, KeyboardInterrupt):
        return "interrupted", INTERRUPTED
    if isinstance(e, MemoryError):
        return "error: out of memory: use fewer or smaller inputs (e.g. a smaller --n or batch)", BAD_INPUT
    first = _one_line(str(e).splitlines()[0][:200]) if str(e) else ""
    return (f"error: internal error: {type(e).__name__}: {first} (run with {debug_hint} for the traceback; "
            "please report it)"), INTERNAL


def _one_line(text: str) -> str:
    """``text`` with newlines and other control characters escaped: messages quote files (a deploy
    package's names, a dataset's paths) that may hold them, and must stay one line that cannot
    drive the terminal (ANSI escapes)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
