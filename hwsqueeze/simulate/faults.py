"""Fault injection for the meta-tests and ``hwsqueeze simulate --inject-fault LAYER``: change one
weight in the *copied* sources of one layer before it is compiled, so that a simulation that still
reports "bit-exact" would be caught lying. The build's own files are never touched."""
from __future__ import annotations

import re
from pathlib import Path

__all__ = ["flip_cppsim_weight", "flip_memblock"]


def flip_cppsim_weight(folder: Path) -> str:
    """Flip the lowest bit of the first hex weight literal in the layer's generated params.h
    (FINN's cppsim weight file), or of the first threshold in thresh.h for weight-less layers."""
    for name in ("params.h", "thresh.h"):
        p = folder / name
        if not p.is_file():
            continue
        text = p.read_text()
        m = re.search(r"0x([0-9a-fA-F]+)", text)
        if m is None:
            m = re.search(r"(?<=[{,\s])(\d+)(?=[,}\s])", text)
            if m is None:
                continue
            new = str(int(m.group(1)) ^ 1)
        else:
            digits = m.group(1)
            new = "0x" + digits[:-1] + format(int(digits[-1], 16) ^ 1, "x")
        p.write_text(text[:m.start()] + new + text[m.end():])
        return f"{name}: {m.group(0)} -> {new}"
    raise ValueError(f"no weights/thresholds to flip in {folder}")


def flip_memblock(src: Path) -> str:
    """Flip the lowest bit of the first word of an RTL layer's weight memory (memblock.dat)."""
    p = src / "memblock.dat"
    if not p.is_file():
        raise ValueError(f"{src} has no memblock.dat (only RTL layers with weights can be faulted)")
    lines = p.read_text().splitlines()
    old = lines[0].strip()
    lines[0] = old[:-1] + format(int(old[-1], 16) ^ 1, "x")
    p.write_text("\n".join(lines) + "\n")
    return f"memblock.dat word 0: {old} -> {lines[0]}"
