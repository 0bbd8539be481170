"""CIFAR-10 python batches, read without running code from them.

The official ``cifar-10-python`` release is a set of Python 2 pickles: one dict per batch with
``bytes`` keys (``b"data"``: a uint8 (N, 3072) numpy array, ``b"labels"``: a list of ints,
``b"batch_label"`` and ``b"filenames"``: bytes). ``pickle.load`` would run whatever a crafted
file asks for, so :class:`_BatchUnpickler` resolves only the globals numpy needs to rebuild an
array (numpy 1 and 2 module names, pickle protocols 2 to 5); anything else is refused.
"""
from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any, Tuple

import numpy as np

from ..errors import HwsqueezeError

__all__ = ["read_batch", "load_cifar_batch", "CIFAR10_CLASSES", "MAX_BATCH_BYTES"]

# CIFAR-10 label order (index = label), as in the official batches.meta
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MAX_BATCH_BYTES = 256 << 20  # an official batch is 30.7 MB


def _dtype(spec: Any, align: bool = False, copy: bool = False) -> np.dtype:
    d = np.dtype(spec, bool(align), bool(copy))
    if d.hasobject:
        raise pickle.UnpicklingError(f"object arrays are refused (dtype {d})")
    return d


def _latin1(text: str, encoding: str = "utf-8") -> bytes:
    """Python 3's protocol-2 form of ``bytes``: ``_codecs.encode(str, "latin1")``."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"codec {encoding!r} refused")
    return codecs.encode(text, "latin1")


_ONE = np.zeros(1, np.uint8)
_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _latin1,
    # ndarray.__reduce__ / __reduce_ex__(5) name these; numpy 2 moved numpy.core to numpy._core
    **{(mod, "_reconstruct"): _ONE.__reduce__()[0] for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "_frombuffer"): _ONE.__reduce_ex__(5)[0] for mod in ("numpy.core.numeric", "numpy._core.numeric")},
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name} (a CIFAR-10 batch holds only "
                                         "numpy arrays, lists, bytes and ints)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids refused")


def read_batch(path: Path) -> Any:
    """The unpickled object of one batch file, with only numpy array types allowed."""
    size = path.stat().st_size
    if size > MAX_BATCH_BYTES:
        raise HwsqueezeError(f"{path}: {size / 1e6:.0f} MB is not a CIFAR-10 batch (at most "
                             f"{MAX_BATCH_BYTES >> 20} MiB)")
    try:
        return _BatchUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except MemoryError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, ValueError, ... for a damaged or crafted file
        first = (str(e).splitlines() or [""])[0][:200]
        raise HwsqueezeError(f"{path}: not a CIFAR-10 python batch ({type(e).__name__}: {first})") from None


def load_cifar_batch(path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """(uint8 NHWC images, int64 labels in 0..9) of one batch; anything else is refused."""
    d = read_batch(path)
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise HwsqueezeError(f"{path}: not a CIFAR-10 python batch (expected a dict with b'data' and b'labels')")
    data, labels = d[b"data"], d[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        what = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise HwsqueezeError(f"{path}: b'data' is a {what}, expected uint8 (N, 3072)")
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        bad = next((v for v in labels if type(v) is not int), labels) if isinstance(labels, list) else labels
        raise HwsqueezeError(f"{path}: b'labels' must be a flat list of ints (found {str(bad)[:40]!r})")
    if len(labels) != data.shape[0]:
        raise HwsqueezeError(f"{path}: {len(labels)} labels for {data.shape[0]} images")
    bad = [v for v in labels if not 0 <= v < len(CIFAR10_CLASSES)]
    if bad:
        raise HwsqueezeError(f"{path}: label {bad[0]} is out of range 0..{len(CIFAR10_CLASSES) - 1}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(labels, dtype=np.int64)
