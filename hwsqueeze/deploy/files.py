"""Opening a deploy package's files: the one place the board side turns a name into a path and reads it.

A package is untrusted input (it travels next to bitstreams), so every path the runtime, the
emulated board, the reference and ``verify`` open goes through here: each name taken from the
package (a node's folder under ``hw/``) must be one plain component, every path must resolve
inside the package (a symlink may point elsewhere *inside* it, never out), only regular files are
read (not a FIFO that blocks or ``/dev/zero`` that never ends), each read is bounded in bytes,
``.npy``/``.npz`` headers are checked before anything is allocated, and text must be UTF-8.
Every refusal is one :class:`~hwsqueeze.errors.HwsqueezeError` line naming the file.
numpy only, Python 3.8 compatible: it runs on the board.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

import numpy as np

from ..errors import HwsqueezeError

__all__ = ["MAX_JSON_BYTES", "MAX_SOURCE_BYTES", "MAX_ARRAY_BYTES", "check_name", "inside", "regular_file",
           "read_bytes", "read_text", "load_npy", "load_npz", "sources", "copy_package"]

MAX_JSON_BYTES = 64 << 20  # deploy.json, graph.json, labels.json (the ImageNet model's graph.json is < 1 MiB)
MAX_SOURCE_BYTES = 64 << 20  # one generated file under hw/ (memblock.dat of the largest layer is < 1 MiB)
MAX_ARRAY_BYTES = 256 << 20  # all arrays of one .npy/.npz once loaded (the PYNQ-Z2 has 512 MiB of DDR; the
                              # ImageNet model's weights.npz holds < 10 MiB)

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")

PathLike = Union[str, Path]


def check_name(name: object, where: str) -> str:
    """``name`` if it is one plain path component (letters, digits, ``_.-``; no ``/``, ``..``, NUL or
    leading dot, at most 128 characters), else one error naming ``where`` (file and field)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or set(name) == {"."}:
        shown = repr(name)[:60] if isinstance(name, str) else type(name).__name__
        raise HwsqueezeError(f"{where} must be a plain file name (letters, digits, '_', '.', '-'; no '/' or "
                             f"'..'), got {shown}")
    return name


def inside(root: PathLike, *parts: str) -> Path:
    """``root/parts...`` resolved, refused unless it stays inside ``root`` (links followed, then checked)."""
    base = Path(root).resolve()
    p = base.joinpath(*parts)
    try:
        real = p.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop
        raise HwsqueezeError(f"{p}: unresolvable path ({e})") from None
    if real != base and base not in real.parents:
        raise HwsqueezeError(f"{Path(root) / Path(*parts)} leads outside the deploy package (to {real}); refused")
    return real


def regular_file(path: Path, limit: int, missing: str) -> Path:
    """``path`` if it is a regular file of at most ``limit`` bytes (``missing``: the error if absent)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise HwsqueezeError(missing) from None
    except OSError as e:
        raise HwsqueezeError(f"{path} is unreadable ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise HwsqueezeError(f"{path} is {kind}; expected a file")
    if st.st_size > limit:
        raise HwsqueezeError(f"{path} is {st.st_size} bytes, more than the {limit >> 20} MiB limit for this file")
    return path


def read_bytes(path: Path, limit: int, missing: str) -> bytes:
    """The bytes of regular file ``path`` (at most ``limit``; never more, even if it grows meanwhile)."""
    regular_file(path, limit, missing)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise HwsqueezeError(f"{path} is unreadable ({e.strerror or e})") from None
    if len(data) > limit:
        raise HwsqueezeError(f"{path} grew past the {limit >> 20} MiB limit while being read")
    return data


def read_text(path: Path, limit: int, missing: str) -> str:
    """:func:`read_bytes` decoded as UTF-8 (one error line if it is not)."""
    data = read_bytes(path, limit, missing)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HwsqueezeError(f"{path} is not UTF-8 text (byte {e.start}); the file is corrupt") from None


def _checked_array(path: Path, name: str, f, nbytes: Optional[int], limit: int) -> int:
    """Read an .npy header from ``f``; refuse object dtypes, sizes over ``limit`` and (when ``nbytes``
    is known) a data section whose length the header does not account for. Returns the data bytes."""
    try:
        version = np.lib.format.read_magic(f)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(f)
    except (ValueError, OSError, SyntaxError, TypeError) as e:
        raise HwsqueezeError(f"{path}{name}: not a numpy array ({str(e).splitlines()[0][:80]})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise HwsqueezeError(f"{path}{name}: dtype {dtype} is not a numeric array")
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > limit:
        raise HwsqueezeError(f"{path}{name}: declares shape {tuple(shape)} ({size} bytes), more than the "
                             f"{limit >> 20} MiB limit")
    if nbytes is not None and nbytes - f.tell() != size:
        raise HwsqueezeError(f"{path}{name}: header declares {size} bytes of data, the file holds {nbytes - f.tell()}")
    return size


def load_npy(path: Path, missing: str, limit: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """A numeric ``.npy`` array, its header checked before anything is allocated."""
    regular_file(path, limit + 4096, missing)
    try:
        with open(path, "rb") as f:
            _checked_array(path, "", f, os.fstat(f.fileno()).st_size, limit)
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except HwsqueezeError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise HwsqueezeError(f"{path} is corrupt ({str(e).splitlines()[0][:120]})") from None


def load_npz(path: Path, missing: str, limit: int = MAX_ARRAY_BYTES) -> Dict[str, np.ndarray]:
    """Every array of a ``.npz`` (no pickle), its members' headers checked and their total bounded."""
    regular_file(path, limit, missing)
    try:
        with zipfile.ZipFile(path) as z:
            total = 0
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    raise HwsqueezeError(f"{path}: member {info.filename[:60]!r} is not an .npy array")
                with z.open(info) as f:
                    total += _checked_array(path, f"/{info.filename[:60]}", f, None, limit)
                if total > limit or info.file_size > limit + 4096:
                    raise HwsqueezeError(f"{path}: its arrays hold more than the {limit >> 20} MiB limit")
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except HwsqueezeError:
        raise
    except Exception as e:  # zipfile/zlib/numpy raise several types for a damaged file
        raise HwsqueezeError(f"{path} is corrupt ({type(e).__name__})") from None


def sources(root: PathLike, folder: Path, pattern: str) -> List[Path]:
    """The files in ``folder`` (inside package ``root``) matching ``pattern``, sorted, each checked
    to stay inside the package."""
    base = Path(root).resolve()
    where = inside(base, os.path.relpath(Path(folder).resolve(), base))
    return [inside(base, os.path.relpath(p, base)) for p in sorted(where.glob(pattern))]


def copy_package(src: PathLike, dst: PathLike, parts: Iterable[str], limit: int = 4 << 30) -> Path:
    """Copy ``parts`` (top-level names) of package ``src`` to a new folder ``dst``: regular files only,
    a symlink inside the package copied as the file it names, one leading out (or anything that is
    neither file nor folder: a FIFO, a device) refused before anything is written; at most ``limit``
    bytes in all. The copy holds no links, so writing to it can never reach the original."""
    src_real = Path(src).resolve()
    plan, seen = [], set()
    total = 0
    for part in parts:
        top = src_real / part
        if not os.path.lexists(top):
            continue
        stack = [top]
        while stack:
            p = stack.pop()
            real = inside(src_real, str(p.relative_to(src_real)))
            if real.is_dir():
                if real in seen:  # a link back up, or two ways to one folder: a loop or a duplicate
                    raise HwsqueezeError(f"{p} links to a folder already copied (a link loop?); refused")
                seen.add(real)
                stack.extend(sorted(p.iterdir()))
                continue
            total += regular_file(real, limit, f"{p} is a dangling link").stat().st_size
            if total > limit:
                raise HwsqueezeError(f"{src}: more than {limit >> 30} GiB to copy; refused")
            plan.append((real, Path(dst) / p.relative_to(src_real)))
    for real, target in plan:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real, target)
    return Path(dst)
