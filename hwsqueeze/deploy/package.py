"""The deploy package: its file layout and ``deploy.json``, read, validated and written here only.

``hwsqueeze build`` writes a package with :func:`write_meta`; the board runtime, the emulated
board, the reference engine, ``hwsqueeze verify``, the notebooks and the tests read it with
:func:`read_meta`. Every malformed package is refused with one line naming the file and the
field. Python 3.8 compatible: it runs on the board.

Layout (paths relative to the package root)::

    deploy.json                 DeployMeta below (format FORMAT)
    reference/graph.json        the HW-layer graph (see deploy/graph.py)
    reference/weights.npz       its integer weights and thresholds
    hw/<layer>/...              what FINN+'s code generation wrote (memblock.dat, thresh.h, ...)
    bitfile/hwsqueeze.{bit,hwh} only when Vivado built them; a rebuild of the package keeps them
                                (bitfile/stale/ when the design changed since, see assemble)
    driver/settings.json        FINN+'s own driver settings (MakePYNQDriver), for finn-plus-driver:
                                finn-plus-driver -b bitfile/hwsqueeze.bit -s driver/settings.json ...
                                (read by deploy/finn_settings.py: FINN's shapes, e.g. output (1, 1, 1, 10))
    README.md                   says whether there is a bitstream (deploy/bitstream.py)
    samples/images.npy          uint8 NHWC sample images; labels.json; expected_outputs.npy
                                (FINN+'s own execution of the HW graph on them, at build time)
    hwsqueeze/                  the numpy-only board code (deploy/, reference/, runtime/)
    notebooks/, tests/          board notebooks and HW-vs-SW tests
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..errors import HwsqueezeError
from ..fsutil import write_json
from .datatypes import is_known_dtype
from .files import MAX_JSON_BYTES, inside, read_text
from .iodma import PLATFORM
from .packing import packed_width

__all__ = ["FORMAT", "DEPLOY_JSON", "REFERENCE_DIR", "GRAPH_JSON", "WEIGHTS_NPZ", "HW_DIR", "BITFILE", "HWH", "SAMPLE_IMAGES",
           "SAMPLE_LABELS", "SAMPLE_EXPECTED", "DRIVER_DIR", "FINN_SETTINGS", "STALE_BITFILE_DIR", "STALE_WHY",
           "README", "StreamSpec", "DeployMeta", "read_json", "read_meta", "write_meta"]

FORMAT = "hwsqueeze-deploy/2"
DEPLOY_JSON = "deploy.json"
REFERENCE_DIR = "reference"
GRAPH_JSON = REFERENCE_DIR + "/graph.json"
WEIGHTS_NPZ = REFERENCE_DIR + "/weights.npz"
HW_DIR = "hw"
BITFILE = "bitfile/hwsqueeze.bit"
HWH = "bitfile/hwsqueeze.hwh"
SAMPLE_IMAGES = "samples/images.npy"
SAMPLE_LABELS = "samples/labels.json"
SAMPLE_EXPECTED = "samples/expected_outputs.npy"
DRIVER_DIR = "driver"  # FINN+'s name for it in its own deployment package
FINN_SETTINGS = "driver/settings.json"
STALE_BITFILE_DIR = "bitfile/stale"  # a kept bitstream of an earlier, different design
STALE_WHY = "bitfile/stale/WHY.txt"
README = "README.md"

PathLike = Union[str, Path]

_DMA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Per image, per stream: the runtime allocates buffers of this many values times the batch. The
# largest real port (ImageNet 224x224x3 input) is 150,528 values; 2**22 leaves room, bounds memory
# and the emulated board's per-value stream loop (seconds per image at the limit).
MAX_STREAM_VALUES = 1 << 22


@dataclass(frozen=True)
class StreamSpec:
    """One accelerator port as FINN's PYNQ driver sees it (``get_driver_shapes``); shapes batch-first
    with batch 1. ``scale``: float logits = integer output x scale (1 for the input)."""

    dma: str
    dtype: str
    shape_normal: Tuple[int, ...]
    shape_folded: Tuple[int, ...]
    shape_packed: Tuple[int, ...]
    scale: float = 1.0

    @property
    def normal(self) -> Tuple[int, ...]:
        """Per-image normal shape (batch dimension dropped)."""
        return self.shape_normal[1:]

    @property
    def folded(self) -> Tuple[int, ...]:
        return self.shape_folded[1:]

    @property
    def packed(self) -> Tuple[int, ...]:
        return self.shape_packed[1:]


@dataclass(frozen=True)
class DeployMeta:
    """Everything ``deploy.json`` says (see the module docstring for the files it points to)."""

    board: str
    part: str
    clock_mhz: float
    input: StreamSpec
    output: StreamSpec
    model: Optional[str] = None
    quant: Optional[str] = None
    classes: Optional[List[str]] = None
    bitfile: Optional[str] = None
    hwh: Optional[str] = None
    platform: str = PLATFORM
    estimates: Dict[str, Any] = field(default_factory=dict)
    versions: Dict[str, str] = field(default_factory=dict)
    provenance: Dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def num_outputs(self) -> int:
        return _prod(self.output.normal)

    def class_name(self, i: int) -> str:
        """Name of class ``i`` (its index as text when the package has no names)."""
        return self.classes[i] if self.classes else str(i)


def read_json(path: PathLike, missing: str) -> dict:
    """A JSON object from regular file ``path`` (bounded, UTF-8); ``missing`` is the error when the
    file does not exist. Callers pass paths already checked to stay inside the package."""
    text = read_text(Path(path), MAX_JSON_BYTES, missing)
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise HwsqueezeError(f"{path} is corrupt ({str(e).splitlines()[0][:120]})") from None
    except RecursionError:  # json nests by recursion: [[[[...]]]] 100,000 deep
        raise HwsqueezeError(f"{path} is corrupt (nested too deeply)") from None
    if not isinstance(obj, dict):
        raise HwsqueezeError(f"{path} is corrupt (not a JSON object)")
    return obj


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


class _Fields:
    """Typed access to a JSON object with one-line errors naming the file and the field."""

    def __init__(self, path: Path, obj: dict) -> None:
        self.path, self.obj = path, obj

    def fail(self, key: str, what: str, value: Any = None) -> HwsqueezeError:
        got = "" if value is None else f", got {json.dumps(value)[:60]}"
        return HwsqueezeError(f"{self.path}: field '{key}' {what}{got}")

    def get(self, key: str, optional: bool = False) -> Any:
        node: Any = self.obj
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if optional:
                    return None
                raise self.fail(key, "is missing")
            node = node[part]
        return node

    def string(self, key: str, optional: bool = False) -> Optional[str]:
        v = self.get(key, optional)
        if v is None and optional:
            return None
        if not isinstance(v, str) or not v or len(v) > 256 or not v.isprintable():  # printed to terminals
            raise self.fail(key, "must be a non-empty string of at most 256 printable characters", v)
        return v

    def relpath(self, key: str, optional: bool = False) -> Optional[str]:
        v = self.string(key, optional)
        if v is not None and (v.startswith(("/", "\\")) or ".." in Path(v).parts):
            raise self.fail(key, "must be a path inside the package", v)
        return v

    def number(self, key: str) -> float:
        v = self.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise self.fail(key, "must be a positive finite number", v)
        return float(v)

    def shape(self, key: str) -> Tuple[int, ...]:
        v = self.get(key)
        if (not isinstance(v, (list, tuple)) or not 2 <= len(v) <= 8 or v[0] != 1
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in v)):
            raise self.fail(key, "must be a list of positive integers with batch dimension 1 (2 to 8 of them)", v)
        if _prod(v) > MAX_STREAM_VALUES:
            raise self.fail(key, f"holds {_prod(v)} values per image, more than the limit of {MAX_STREAM_VALUES}",
                            list(v))
        return tuple(v)

    def mapping(self, key: str) -> dict:
        v = self.get(key, optional=True)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail(key, "must be an object", v)
        return v


def _stream(f: _Fields, key: str) -> StreamSpec:
    dtype = f.string(key + ".dtype")
    if not is_known_dtype(dtype):
        raise f.fail(key + ".dtype", "must be a FINN integer datatype such as UINT8 or INT21", dtype)
    dma = f.string(key + ".dma")
    if not _DMA_NAME.fullmatch(dma):  # the runtime looks it up as an attribute of the overlay
        raise f.fail(key + ".dma", "must be an IP block name such as idma0 (letters, digits, '_')", dma)
    s = StreamSpec(dma=dma, dtype=dtype, shape_normal=f.shape(key + ".shape_normal"),
                   shape_folded=f.shape(key + ".shape_folded"), shape_packed=f.shape(key + ".shape_packed"),
                   scale=f.number(key + ".scale") if f.get(key + ".scale", optional=True) is not None else 1.0)
    if _prod(s.normal) != _prod(s.folded):
        raise f.fail(key + ".shape_folded", f"holds {_prod(s.folded)} values, shape_normal {_prod(s.normal)}",
                     list(s.shape_folded))
    if s.packed[:-1] != s.folded[:-1] or s.packed[-1] != packed_width(s.folded[-1], dtype):
        raise f.fail(key + ".shape_packed", f"does not match shape_folded {list(s.shape_folded)} of {dtype}",
                     list(s.shape_packed))
    return s


def read_meta(root: PathLike) -> DeployMeta:
    """The validated ``deploy.json`` of the package at ``root`` (one-line error when malformed)."""
    root = Path(root)
    path = root / DEPLOY_JSON
    if root.is_file():
        raise HwsqueezeError(f"{root} is a file; give the deploy package folder (build/<board>/deploy)")
    f = _Fields(path, read_json(inside(root, DEPLOY_JSON), f"{root} is not a deploy package (no {DEPLOY_JSON})"))
    fmt = f.get("format")
    if fmt != FORMAT:
        raise f.fail("format", f"must be {FORMAT!r} (rebuild the package with this hwsqueeze)", fmt)
    platform = f.string("platform")
    if platform != PLATFORM:
        raise f.fail("platform", f"must be {PLATFORM!r} (the only supported shell)", platform)
    out = _stream(f, "output")
    classes = f.get("classes", optional=True)
    if classes is not None and (not isinstance(classes, list) or len(classes) != _prod(out.normal)
                                or not all(isinstance(c, str) and 0 < len(c) <= 256 and c.isprintable() for c in classes)
                                or len(set(classes)) != len(classes)):
        raise f.fail("classes", f"must be null or a list of {_prod(out.normal)} class names, all different and printable", classes)
    meta = DeployMeta(board=f.string("board"), part=f.string("part"), clock_mhz=f.number("clock_mhz"),
                      input=_stream(f, "input"), output=out, model=f.string("model", True),
                      quant=f.string("quant", True), classes=classes, bitfile=f.relpath("bitfile", True),
                      hwh=f.relpath("hwh", True), platform=platform, estimates=f.mapping("estimates"),
                      versions=f.mapping("versions"), provenance=f.mapping("provenance"))
    if meta.input.dma == meta.output.dma:
        raise f.fail("output.dma", "must differ from input.dma", meta.output.dma)
    return meta


def write_meta(root: PathLike, meta: DeployMeta) -> Path:
    """Write ``deploy.json`` atomically, after checking it reads back as valid."""
    path = Path(root) / DEPLOY_JSON
    _stream(_Fields(path, {"s": asdict(meta.input)}), "s")  # refuse to write what we would refuse to read
    _stream(_Fields(path, {"s": asdict(meta.output)}), "s")
    return write_json(path, meta.to_dict())
