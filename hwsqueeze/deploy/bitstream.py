"""The bitstream in a deploy package: recording it (:func:`set_bitfile`) and the package's
README.md, which says how to use the package and whether it holds a bitstream.

The README is written when the package is assembled and again when a bitstream is recorded, so
it always says what the folder holds:
a bitstream (the notebooks and tests run on the FPGA), none (they run on the emulated board),
or one kept from an earlier build of a different design (``bitfile/stale/``, never used).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List, Union

from ..errors import HwsqueezeError
from ..fsutil import MANIFEST, write_text
from .package import BITFILE, FINN_SETTINGS, HWH, README, STALE_BITFILE_DIR, STALE_WHY, DeployMeta, read_meta, write_meta

__all__ = ["render_readme", "write_readme", "set_bitfile"]


def _bitstream_lines(meta: DeployMeta, root: Path) -> List[str]:
    if meta.bitfile:
        lines = [f"**This package holds a bitstream** (`{meta.bitfile}`, `{meta.hwh}`): on a PYNQ board the "
                 "notebooks, tests and `Accelerator.open()` load it and run on the FPGA; on a host they use the "
                 "emulated board."]
    else:
        lines = ["**No bitstream in this package**: it was built without Vivado (or before the Vivado steps "
                 "finished). The notebooks and tests run against the EMULATED board, also on a PYNQ board "
                 "(where they warn); build on a machine with Vivado/Vitis to get `bitfile/`."]
    why = root / STALE_WHY
    if why.is_file():
        lines += ["", f"`{STALE_BITFILE_DIR}/` holds a bitstream of an EARLIER, DIFFERENT design, kept because a "
                      f"rebuild never deletes a bitstream; it is not used and does not match this package: "
                      f"{why.read_text(encoding='utf-8').strip()}"]
    return lines


def render_readme(meta: DeployMeta, root: Union[str, Path]) -> str:
    """README.md text for the package ``meta`` describes, rooted at ``root``."""
    root = Path(root)
    bit = meta.bitfile or "bitfile/hwsqueeze.bit"
    lines: List[str] = [
        f"# hwsqueeze deploy package: {meta.model} ({meta.quant}) for {meta.board}", "",
        *_bitstream_lines(meta, root), "",
        "Copy this folder to the board and use it from Jupyter or Python:", "",
        "```", f"scp -r deploy xilinx@pynq:~/hwsqueeze-{meta.board}",
        f"ssh xilinx@pynq 'sudo sh ~/hwsqueeze-{meta.board}/install-on-pynq.sh'   # notebooks into Jupyter's folder",
        "```", "",
        "On the board (PYNQ 2.7 / 3.0 image: Python 3.8+, numpy, pynq; nothing to install):", "",
        "```python", "from hwsqueeze.runtime import Accelerator",
        "acc = Accelerator.open('.')   # real board if pynq finds one and there is a bitstream, else emulated",
        "logits = acc.run(images_uint8_nhwc)", "```", "",
        "- `notebooks/`: classify, verify (hardware vs bit-exact reference), throughput.",
        "- `python3 -m hwsqueeze.runtime verify | classify IMG | benchmark | throughput_test`: the same from a shell.",
        "- `tests/`: `python -m pytest tests` compares hardware and reference outputs (`HWSQUEEZE_BOARD=1` to "
        "require the board).",
        "- `reference/`: the HW-layer graph and its integer weights for the numpy reference engine.",
        "- `hw/`: the HLS/RTL sources FINN+ generated; the emulated board computes from these.",
        "- `samples/`: sample images with their labels (`labels.json` says whether they are real test images "
        "or synthetic), and FINN+'s outputs for them.",
        f"- `{FINN_SETTINGS}`: FINN+'s own driver settings (written by FINN+'s MakePYNQDriver), to cross-check "
        "the board with FINN's tool: with finn-plus-driver 1.6.1 installed (Python 3.10+, i.e. a PYNQ 3.x image; "
        "it needs qonnx, which needs onnx: not on PYNQ images, untested on the board here), from this folder",
        f"  `finn-plus-driver -b {bit} -s {FINN_SETTINGS} -f throughput_test` (needs the bitstream).", ""]
    return "\n".join(lines)


def write_readme(root: Union[str, Path], meta: DeployMeta) -> Path:
    """(Re)write the package's README.md atomically."""
    return write_text(Path(root) / README, render_readme(meta, root))


def set_bitfile(root: Union[str, Path], bit: str = BITFILE, hwh: str = HWH) -> DeployMeta:
    """Record a bitstream that the build copied into the package (both files must exist); the
    package README then says so."""
    root = Path(root)
    for rel in (bit, hwh):
        if not (root / rel).is_file():
            raise HwsqueezeError(f"{root / rel} is missing: cannot record the bitstream")
    meta = replace(read_meta(root), bitfile=bit, hwh=hwh)
    write_meta(root, meta)
    manifest = root / MANIFEST  # the build wrote these files too: a rebuild may replace them
    listed = manifest.read_text().splitlines() if manifest.is_file() else []
    write_text(manifest, "\n".join(sorted(set(listed) | {bit, hwh})) + "\n")
    write_readme(root, meta)
    return meta
