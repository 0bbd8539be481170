"""Hardware levers towards 3,000 FPS on the PYNQ-Z2 (issue 12): estimate-only builds of UNTRAINED
SqueezeNet-1.1-CIFAR variants (bit widths, width multiplier, fused Fire expand), each through the
real ``hwsqueeze build`` with ``--target-fps auto``, so every figure is the automatic folding's best
design within the board's margin (LUT and BRAM18 <= 85 % including FIFOs, width converters, IODMAs
and the shell; ``compile/estimates.py``). Untrained weights are enough for hardware figures: the
shapes, bit widths and folding decide them (the shipped trained model and the untrained W4A4 row
are compared in the README).

    python scripts/hw_levers.py [--only NAME ...] [--out build/levers] [--board pynq-z2] [--markdown] [--reuse]

``*-rtl`` configs re-convert a plain config's build with standalone thresholds, so that every MVAU
can be FINN+'s DSP-packed RTL MVU (``hwsqueeze/compile/dsps.py``), check the result against the
build's HW graph by FINN+'s execution, and fold it with the same ``auto_fold``.
``*-fused`` configs refold a plain config's build with ``--fuse-fire``.
Each config writes ``<out>/<name>/ckpt.pt`` (an untrained checkpoint with that QuantSpec/width) and
builds into ``<out>/<name>/``; an existing build is resumed from the folding step.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRES = [f"fire{i}" for i in range(2, 10)]


def _mixed(expand_w: int, squeeze_a: int) -> dict:
    """Overrides: every Fire's expand weights at ``expand_w`` bits and its squeeze output (the expands'
    input) at ``squeeze_a`` bits; everything else W4A4 (8-bit first/last weights)."""
    out = {}
    for f in FIRES:
        out[f"{f}.expand"] = {"w": expand_w}
        out[f"{f}.squeeze"] = {"a": squeeze_a}
    return out


# name -> (QuantSpec fields, width)
CONFIGS = {
    "w4a4": (dict(weight_bits=4, act_bits=4), 1.0),
    "w3a4": (dict(weight_bits=3, act_bits=4), 1.0),
    "w4a3": (dict(weight_bits=4, act_bits=3), 1.0),
    "w3a3": (dict(weight_bits=3, act_bits=3), 1.0),
    "expand-w3-squeeze-a3": (dict(weight_bits=4, act_bits=4, overrides=_mixed(3, 3)), 1.0),
    "w4a4-x0.75": (dict(weight_bits=4, act_bits=4), 0.75),
    "w3a3-x0.75": (dict(weight_bits=3, act_bits=3), 0.75),
    "w2a4": (dict(weight_bits=2, act_bits=4), 1.0),
}
# name -> the config whose build it refolds with fused Fire expands (``--fuse-fire``)
FUSED = {"w4a4-fused": "w4a4", "w3a3-fused": "w3a3"}
# name -> the config whose build it re-converts with standalone thresholds (RTL MVUs, ``dsps``)
RTL = {"w4a4-rtl": "w4a4", "w3a3-rtl": "w3a3", "w3a4-rtl": "w3a4", "w4a4-x0.75-rtl": "w4a4-x0.75"}


def checkpoint(path: Path, spec_fields: dict, width: float) -> None:
    """An untrained checkpoint (seed 0, statistics from random pixels) the build reads like a trained one."""
    import torch

    from hwsqueeze.models import QuantSpec, create
    from hwsqueeze.train.checkpoint import save_checkpoint

    spec = QuantSpec(**spec_fields)
    torch.manual_seed(0)
    model = create("squeezenet1_1-cifar10", spec, width=width)
    # Brevitas materialises each activation scale after its statistics steps (training-mode passes);
    # random pixels give every quantizer and BatchNorm a scale, as training would.
    model.train()
    with torch.no_grad():
        for _ in range(60):
            model(torch.randint(0, 256, (8, 3, 32, 32)).float())
    model.eval()
    cfg = {"model": "squeezenet1_1-cifar10", "quant": spec.tag().lower(), "width": width, "bypass": False,
           "dropout": None, "quant_spec": spec.to_dict()}
    save_checkpoint(path, {"model": model.state_dict(), "config": cfg})


def build(name: str, out: Path, board: str, reuse: bool = False) -> dict:
    """An estimate-only build of config ``name`` (a ``FUSED`` one: its base's build, copied, refolded
    with ``--fuse-fire``); an existing build is resumed from the folding step."""
    import shutil

    base = FUSED.get(name, name)
    spec_fields, width = CONFIGS[base]
    d, ck = out / name, out / base / "ckpt.pt"
    if not ck.is_file():
        checkpoint(ck, spec_fields, width)
    flags = ["--fuse-fire"] if name in FUSED else []
    if name in FUSED and not (d / "build").is_dir():
        if not (out / base / "build" / "build_state.json").is_file():
            build(base, out, board)
        shutil.copytree(out / base / "build", d / "build", ignore=shutil.ignore_patterns("finn_tmp"))
    args = [sys.executable, "-c", "from hwsqueeze.cli import run; run()", "build", "--board", board, "--checkpoint",
            str(ck), "--estimate-only", "--out", str(d / "build"), "--samples", "generated:16", "--json", *flags]
    if (d / "build" / "build_state.json").is_file():
        args += ["--from-step", "folding"]
    res = None if reuse and (d / "build" / "estimates.json").is_file() else \
        subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    if res is not None and res.returncode != 0:
        raise SystemExit(f"{name}: build failed (rc {res.returncode}): {res.stderr.strip()[-400:]}")
    est = json.loads((d / "build" / "estimates.json").read_text())
    return {"name": name, "width": width, "flags": " ".join(flags), "fps": est["fps"], **est["totals"],
            "fits": est["fits"], "overhead": est["overhead"]}


def _same_outputs(a, b, n: int = 2) -> None:
    """FINN+'s Python execution of two HW graphs on ``n`` random uint8 images: identical or exit."""
    import numpy as np

    from hwsqueeze.compile.verify import execute

    shape = a.get_tensor_shape(a.graph.input[0].name)[1:]
    images = np.random.default_rng(0).integers(0, 256, (n, *shape)).astype(np.uint8)
    if not np.array_equal(execute(a, images), execute(b, images)):
        raise SystemExit("standalone-threshold graph differs from the build's HW graph")


def build_rtl(name: str, out: Path, board_name: str, reuse: bool = False) -> dict:
    """The plain config's build re-converted with standalone thresholds (every MVAU an RTL MVU, DSP-
    packed, or an HLS MVAU where DSPs run out), checked equal to the build's HW graph by FINN+'s
    execution, then folded by ``auto_fold`` and estimated like a build."""
    from hwsqueeze.compile.finn_env import activate

    if reuse and (out / name / "estimates.json").is_file():
        est = json.loads((out / name / "estimates.json").read_text())
        return {"name": name, "width": CONFIGS[RTL[name]][1], "flags": est["how"], "fps": est["fps"], **est["totals"],
                "fits": est["fits"], "overhead": est["overhead"]}
    src = out / RTL[name] / "build" / "intermediate"
    if not list(src.glob("06_*.onnx")):
        build(RTL[name], out, board_name)
    activate(out / name)  # before FINN+ is imported
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveUniqueNodeNames

    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.compile.folding import auto_fold
    from hwsqueeze.compile.steps.dataflow import to_hw
    from hwsqueeze.fsutil import write_json

    board = load_board(board_name)

    model = to_hw(ModelWrapper(str(next(src.glob("03_*.onnx")))), standalone_thresholds=True)
    model = model.transform(SpecializeLayers(board.part)).transform(GiveUniqueNodeNames())
    _same_outputs(ModelWrapper(str(next(src.glob("06_*.onnx")))), model)
    res = auto_fold(model, board)
    est = res.estimate.to_dict()
    rtl = sum(n.op_type == "MVAU_rtl" for n in res.model.graph.node)
    est["how"] = f"standalone thresholds, {rtl} RTL MVUs"
    write_json(out / name / "estimates.json", {k: est[k] for k in ("fps", "totals", "overhead", "fits", "how")})
    return {"name": name, "width": CONFIGS[RTL[name]][1], "flags": est["how"],
            "fps": est["fps"], **est["totals"], "fits": est["fits"], "overhead": est["overhead"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None, choices=sorted({**CONFIGS, **FUSED, **RTL}))
    ap.add_argument("--out", default=str(ROOT / "build" / "levers"))
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="Take the figures of builds already in --out.")
    a = ap.parse_args()
    rows = [build_rtl(n, Path(a.out), a.board, a.reuse) if n in RTL else build(n, Path(a.out), a.board, a.reuse)
            for n in (a.only or [*CONFIGS, *FUSED, *RTL])]
    if not a.markdown:
        print(json.dumps(rows, indent=1))
        return
    print("| config | how | est. FPS | LUT | BRAM18 | DSP | fits | >= 3,000 FPS |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['flags'] or '-'} | {r['fps']:,.0f} | {r['lut']:,} | {r['bram18']} | {r['dsp']} | "
              f"{'yes' if r['fits'] else 'no'} | {'yes' if r['fits'] and r['fps'] >= 3000 else 'no'} |")


if __name__ == "__main__":
    main()
