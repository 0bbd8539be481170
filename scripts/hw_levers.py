"""Hardware levers towards 3,000 FPS on the PYNQ-Z2 (issue 12): estimate-only builds of UNTRAINED
SqueezeNet-1.1-CIFAR variants (bit widths, width multiplier, fused Fire expand), each through the
real ``hwsqueeze build`` with ``--target-fps auto``, so every figure is the automatic folding's best
design within the board's margin (LUT and BRAM18 <= 85 % including FIFOs, width converters, IODMAs
and the shell; ``compile/estimates.py``). Untrained weights are enough for hardware figures: the
shapes, bit widths and folding decide them (the shipped trained model and the untrained W4A4 row
are compared in docs/levers.md).

    python scripts/hw_levers.py [--only NAME ...] [--out build/levers] [--board pynq-z2] [--markdown] [--reuse]

``*-rtl`` configs rebuild a plain config's build with ``--standalone-thresholds`` (every MVAU FINN+'s
DSP-packed RTL MVU, ``hwsqueeze/compile/dsps.py``; the build checks the new graph bit-exact itself);
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
# name -> (the config whose build it resumes, the build option it adds)
VARIANTS = {"w4a4-fused": ("w4a4", "--fuse-fire"), "w3a3-fused": ("w3a3", "--fuse-fire"),
            **{f"{b}-rtl": (b, "--standalone-thresholds") for b in ("w4a4", "w3a3", "w3a4", "w4a4-x0.75")}}


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
    """An estimate-only build of config ``name`` (a ``VARIANTS`` one: its base's build, copied and
    resumed with the variant's option, which reruns the steps that option changes); an existing build
    is resumed from the folding step."""
    import shutil

    base, flag = VARIANTS.get(name, (name, None))
    spec_fields, width = CONFIGS[base]
    d, ck = out / name, out / base / "ckpt.pt"
    if not ck.is_file():
        checkpoint(ck, spec_fields, width)
    flags = [flag] if flag else []
    if name in VARIANTS and not (d / "build").is_dir():
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None, choices=sorted({**CONFIGS, **VARIANTS}))
    ap.add_argument("--out", default=str(ROOT / "build" / "levers"))
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="Take the figures of builds already in --out.")
    a = ap.parse_args()
    rows = [build(n, Path(a.out), a.board, a.reuse) for n in (a.only or [*CONFIGS, *VARIANTS])]
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
