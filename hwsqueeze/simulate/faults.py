"""Fault injection for the meta-tests and ``hwsqueeze simulate --inject-fault LAYER``: change one
weight in the *copied* sources of one layer before it is compiled, so that a simulation that still
reports "bit-exact" would be caught lying. The build's own files are never touched."""
from __future__ import annotations

import re
from pathlib import Path

__all__ = ["flip_cppsim_weight", "flip_memblock"]


def flip_cppsim_weight(folder: Path) -> str:
    """Change one weight of an HLS layer's generated cppsim sources: the first element of the
    streamed-weights file ``input_1.npy`` (MVAU ``internal_decoupled``: its test bench reads it),
    else the first hex literal of ``params.h`` (embedded weights), else the first threshold."""
    import numpy as np

    w = folder / "input_1.npy"
    if w.is_file():
        a = np.load(w)
        flat = a.reshape(-1)
        old = float(flat[0])
        flat[0] = old - 1 if old > 0 else old + 1  # stays inside any signed/unsigned >= 2-bit range
        np.save(w, a)
        return f"input_1.npy weight 0: {old:g} -> {float(flat[0]):g}"
    for name, pattern in (("params.h", r"0x[0-9a-fA-F]+"), ("thresh.h", r"(?<=\{)\s*-?\d+(?=,)")):
        p = folder / name
        if not p.is_file():
            continue
        text = p.read_text()
        body = text.index("=") if "=" in text else 0  # after the declaration: not an array bound
        m = re.compile(pattern).search(text, body)
        if m is None:
            continue
        tok = m.group(0).strip()
        new = hex(int(tok, 16) ^ 1) if tok.startswith("0x") else str(int(tok) + 1)
        p.write_text(text[:m.start()] + new + text[m.end():])
        return f"{name}: {tok} -> {new}"
    raise ValueError(f"no weights/thresholds to flip in {folder}")


def flip_memblock(src: Path) -> str:
    """Flip the lowest bit of the first word of an RTL layer's weight memory (memblock.dat); for an
    RTL thresholding layer, channel 0's first-stage threshold (its binary search's middle one, which
    every input of that channel meets first) set to 0 (or to 1 where it was 0)."""
    p = src / "memblock.dat"
    thresholds = sorted(src.glob("*_threshs_0_0.dat"))
    if not p.is_file() and thresholds:
        lines = thresholds[0].read_text().splitlines()
        old = lines[0].strip()
        lines[0] = ("1" if int(old, 16) == 0 else "0").rjust(len(old), "0")
        thresholds[0].write_text("\n".join(lines) + "\n")
        return f"{thresholds[0].name} word 0: {old} -> {lines[0]}"
    if not p.is_file():
        raise ValueError(f"{src} has no memblock.dat or thresholds (only RTL layers with weights or "
                         "thresholds can be faulted)")
    lines = p.read_text().splitlines()
    old = lines[0].strip()
    lines[0] = old[:-1] + format(int(old[-1], 16) ^ 1, "x")
    p.write_text("\n".join(lines) + "\n")
    return f"memblock.dat word 0: {old} -> {lines[0]}"


def flip_initializer(model, name: str) -> str:
    """Change one weight of layer ``name`` in the simulators' copy of the graph (never the truth's
    copy, never a file of the build). FINN's cppsim of a streamed-weights MVAU feeds the weights
    from the graph at run time (input_1.npy is rewritten per call), so the fault goes there."""
    import numpy as np

    node = next(n for n in model.graph.node if n.name == name)
    w = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
    if w is None:
        raise ValueError(f"{name} has no weight initializer")
    w = w.copy()
    # Output neuron 0's whole weight column (MW x MH matrix) moved to the opposite end of the
    # weight type's range: measured on the tiny model, a single weight changed (even 2 -> -8)
    # often meets zero activations (ReLU) and vanishes after thresholding; a column does not.
    dt = model.get_tensor_datatype(node.input[1])
    col = w[..., 0]
    mid = (dt.min() + dt.max()) / 2
    w[..., 0] = np.where(col > mid, dt.min(), dt.max())
    model.set_initializer(node.input[1], w)
    return f"{node.input[1]}[:, 0] (output neuron 0, {col.size} weights) -> opposite end of {dt.name}"
