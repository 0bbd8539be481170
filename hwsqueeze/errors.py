"""The one exception type users see: printed as a single ``error: ...`` line by the CLI."""
from __future__ import annotations

__all__ = ["HwsqueezeError"]


class HwsqueezeError(Exception):
    """A user-facing error (bad input, missing tool, failed check). ``exit_code`` is the CLI's."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
