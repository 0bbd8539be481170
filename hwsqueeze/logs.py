"""Logging: library code logs to the ``hwsqueeze`` logger tree; the CLI decides what reaches the console.

Used as Python users expect: a library that is imported logs nothing to the console until the
application configures logging (``logging.basicConfig(level=logging.INFO)`` shows the build's
progress). The ``hwsqueeze`` command attaches one console handler (:func:`to_console`); a build
also writes every record to its ``build.log`` (:func:`to_file`, like FINN's builder).
"""
from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Iterator, Optional, TextIO, Union

__all__ = ["ROOT", "to_console", "to_file"]

ROOT = "hwsqueeze"
_CONSOLE = "_hwsqueeze_console"


def to_console(level: int = logging.INFO, stream: Optional[TextIO] = None) -> logging.Handler:
    """Send ``hwsqueeze.*`` records at ``level`` and above to ``stream`` (default: stdout now), as bare lines.

    Replaces the handler an earlier call attached. The stream is taken at call time on purpose:
    the build redirects stdout into build.log while FINN+ runs, and progress must still reach the user.
    """
    log = logging.getLogger(ROOT)
    for h in [h for h in log.handlers if getattr(h, _CONSOLE, False)]:
        log.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(level)
    setattr(handler, _CONSOLE, True)
    log.addHandler(handler)
    log.setLevel(min(level, logging.INFO))  # INFO at least: build.log records progress even when the console is quiet
    log.propagate = False  # the CLI owns the console: no second copy through the root logger
    return handler


@contextlib.contextmanager
def to_file(path: Union[str, Path], logger: str = ROOT, level: int = logging.INFO,
            exclusive: bool = False) -> Iterator[logging.Handler]:
    """Append every record of ``logger`` (``level`` and above, timestamped) to ``path`` while the block runs.

    ``exclusive``: the records go only there (not to the console through the root logger's
    last-resort handler) -- used for FINN+'s compiler chatter, e.g. pages of g++ warnings.
    """
    log = logging.getLogger(logger)
    handler = logging.FileHandler(str(path), mode="a", encoding="utf-8", delay=True)  # no empty file
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    handler.setLevel(level)
    old_level, old_propagate = log.level, log.propagate
    if not old_level or old_level > level:
        log.setLevel(level)
    if exclusive:
        log.propagate = False
    log.addHandler(handler)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        handler.close()
        log.setLevel(old_level)
        log.propagate = old_propagate
