"""Atomic file writes: the one place that writes a file so a crash never leaves half of it.

Standard library only (it also ships to the board inside the deploy package). Every writer
writes ``.<name>.tmp<pid>`` next to the target and renames it over the target (atomic on POSIX),
removing the temporary file if anything fails.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, Union

__all__ = ["atomic_write", "write_text", "write_json", "atomic_dir", "tmp_name"]

PathLike = Union[str, "os.PathLike[str]"]


def tmp_name(path: PathLike) -> Path:
    """The temporary sibling used while ``path`` is being written (hidden, per process)."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp{os.getpid()}")


def atomic_write(path: PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path``; on failure nothing is left."""
    p = Path(path)
    tmp = tmp_name(p)
    try:
        write(tmp)
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def write_text(path: PathLike, text: str) -> Path:
    """``path`` holds ``text`` (UTF-8), written atomically."""
    return atomic_write(path, lambda t: t.write_text(text, encoding="utf-8"))


def write_json(path: PathLike, obj: Any, indent: int = 1) -> Path:
    """``path`` holds ``obj`` as JSON, written atomically (non-JSON values as ``str``)."""
    return write_text(path, json.dumps(obj, indent=indent, default=str) + "\n")


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name; it replaces ``path`` only if the block succeeds.

    The old ``path`` (if any) stays untouched until the new one is complete, and a failed build
    leaves no temporary directory behind.
    """
    final = Path(path)
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        old = final.with_name(f".{final.name}.old{os.getpid()}")
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
