"""The one exception type users see, and the CLI's exit codes (one per class of failure).

``hwsqueeze`` prints a :class:`HwsqueezeError` as a single ``error: ...`` line and exits with its
``exit_code``; anything else is an internal error (exit 70, one line; ``--debug`` shows the
traceback).
"""
from __future__ import annotations

__all__ = ["HwsqueezeError", "BAD_INPUT", "NO_FIT", "MISSING_TOOL", "VERIFY_FAILED", "TIMING_FAILED", "INTERNAL",
           "EXIT_CODES"]

BAD_INPUT = 2  # a file, option or value that is wrong or missing (also click's usage errors)
NO_FIT = 3  # a design that cannot meet the target on the board
MISSING_TOOL = 4  # a required tool (vivado, vitis_hls, pynq) is not available
VERIFY_FAILED = 5  # hardware and reference (or a build stage and its truth) disagree
TIMING_FAILED = 6  # Vivado's routed design misses timing (negative setup or hold slack): no usable bitstream
INTERNAL = 70  # a bug in hwsqueeze or a library it calls (sysexits EX_SOFTWARE)

EXIT_CODES = {0: "success", 1: "aborted by the user (Ctrl-C exits 130)", BAD_INPUT: "bad input", NO_FIT: "does not fit",
              MISSING_TOOL: "missing tool", VERIFY_FAILED: "verification failed", TIMING_FAILED: "timing not met",
              INTERNAL: "internal error"}


class HwsqueezeError(Exception):
    """A user-facing error (bad input, missing tool, failed check). ``exit_code`` is the CLI's."""

    exit_code = BAD_INPUT

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code
