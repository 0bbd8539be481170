"""Pareto table and plot: config -> CIFAR-10 top-1 -> est. FPS -> LUT % -> BRAM18 %, every row measured,
with finn-examples' CNV-W2A2 beside it.

For each checkpoint (default: the shipped model), each mapping (default: both, the default one and
``--standalone-thresholds``) and each target FPS, the design is built by our estimate flow
(``hwsqueeze build --estimate-only --target-fps X``: the library's ``run_build``; one resumable
build folder per checkpoint and mapping under ``build/pareto/``, so each further target reruns
only folding -> estimates). LUT/BRAM18 are whole-design totals (layers + width converters + FIFOs
+ IODMAs + shell, ``compile/estimates.py``) in % of the xc7z020. Top-1 is a real evaluation of the
checkpoint on the shared CIFAR-10 test set (10,000 images; cached by checkpoint sha256), or left
out with the reason when the data is not there. The CNV-W2A2 rows come from FINN+'s own
``build_dataflow`` (``peer_cnv.py``): finn-examples' folding and FINN's folding for each target;
their top-1 is the CNV-W2A2 trained on the same copy (``checkpoints/cnv-w2a2-cifar10-kd.pt``; the
estimates depend on shapes, bits and folding, not weights), the published figure (official test
set, not comparable) only while that checkpoint is missing.

Usage:  python benchmarks/pareto.py [CHECKPOINT ...] [--fps 500,1000,...] [--mappings default,standalone-thresholds]
                                    [--data ARCHIVE] [--out DIR]
Adding a model is one argument: ``python benchmarks/pareto.py hwsqueeze/default_model/x.pt runs/w3a3/best.pt``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_cnv  # noqa: E402  (the CNV-W2A2 side, shared with the side-by-side benchmark)
from hwsqueeze.compile.boards import MARGIN  # noqa: E402

CACHE = ROOT / "build" / "pareto"
DEFAULT_FPS = (500, 1000, 1500, 2000, 2500, 3000)
MAPPINGS = {"default": False, "standalone-thresholds": True}  # name -> BuildConfig.standalone_thresholds
CIFAR = Path(os.environ.get("HWSQUEEZE_CIFAR", ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"))


def say(msg: str) -> None:
    print(f"[pareto {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def top1(checkpoint: Path, data: Path) -> Tuple[Optional[float], str]:
    """(top-1 on ``data``'s 10,000 test images, how it was measured), or (None, why not); cached in
    ``build/pareto/top1.json`` by the sha256 of the checkpoint and of the data."""
    from hwsqueeze.fsutil import sha256_file, write_json

    if not data.is_file():
        return None, f"not measured: CIFAR-10 archive not found at {data} (set HWSQUEEZE_CIFAR)"
    key = f"{sha256_file(checkpoint)}:{sha256_file(data)}"
    cache_file = CACHE / "top1.json"
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    if key not in cache:
        from hwsqueeze.data import load_dataset
        from hwsqueeze.train import model_from_checkpoint
        from hwsqueeze.train.loop import evaluate

        say(f"evaluating {checkpoint.name} on the CIFAR-10 test set ({data.name}; ~1-3 min on 2 cores)")
        t0 = time.time()
        model, _ = model_from_checkpoint(checkpoint)
        res = evaluate(model, load_dataset(str(data), "test", size=model.arch.input_size))
        cache[key] = {"top1": res["top1"], "n": res["n"], "checkpoint": str(checkpoint), "data": str(data)}
        CACHE.mkdir(parents=True, exist_ok=True)
        write_json(cache_file, cache)
        say(f"top-1 {res['top1']:.4f} on {res['n']} images ({time.time() - t0:.0f} s)")
    rec = cache[key]
    return rec["top1"], f"measured on {rec['n']:,} CIFAR-10 test images"


def code_digest() -> str:
    """Digest of the code a point's figures depend on beyond the checkpoint (models, export, compile):
    cached points from other code are rebuilt (the build's own provenance only knows versions)."""
    import hashlib

    h = hashlib.sha256()
    pkg = ROOT / "hwsqueeze"
    for f in sorted([pkg / "export.py", *(pkg / "models").rglob("*.py"), *(pkg / "compile").rglob("*.py")]):
        h.update(f.relative_to(pkg).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def our_point(checkpoint: Path, fps: float, board, standalone: bool = False) -> dict:
    """Our estimate flow for ``checkpoint`` folded for ``fps`` (``standalone``: with
    ``--standalone-thresholds``): the figures of its ``estimates.json`` (cached in the build
    folder's ``points.json`` for this code)."""
    from hwsqueeze.compile.config import BuildConfig
    from hwsqueeze.compile.runner import run_build
    from hwsqueeze.errors import HwsqueezeError
    from hwsqueeze.fsutil import sha256_file, write_json

    sha = sha256_file(checkpoint)
    out = CACHE / f"{checkpoint.stem}-{sha[:12]}{'-standalone' if standalone else ''}"
    points_file, code = out / "points.json", code_digest()
    cached = json.loads(points_file.read_text()) if points_file.is_file() else {}
    same_code = cached.get("code") == code
    points = cached.get("points", {}) if same_code else {}
    key = f"{fps:g}"
    if key not in points:
        t0 = time.time()
        say(f"{checkpoint.name}: estimate build for {fps:,.0f} FPS in {out} (first target of a checkpoint ~3 min, "
            "then ~15 s each)")
        resume = "folding" if same_code and (out / "build_state.json").is_file() else None
        cfg = dict(board=board, out_dir=out, checkpoint=checkpoint, target_fps=float(fps), estimate_only=True,
                   standalone_thresholds=standalone)
        try:
            run_build(BuildConfig(**cfg, from_step=resume))
        except HwsqueezeError as e:  # an interrupted earlier build cannot be resumed: start again
            if resume is None:
                raise
            say(f"cannot resume ({str(e)[:120]}); building from the start")
            run_build(BuildConfig(**cfg))
        est = json.loads((out / "estimates.json").read_text())
        src = json.loads((out / "build_state.json").read_text())["source"]
        points[key] = {"fps": est["fps"], "totals": est["totals"], "budget": est["budget"], "fits": est["fits"],
                       "margin": est["margin"], "model": src.get("model"), "quant": src.get("quant")}
        write_json(points_file, {"code": code, "points": points})
        say(f"  -> {est['fps']:,.0f} FPS, LUT {est['totals']['lut']:,}, BRAM18 {est['totals']['bram18']} "
            f"({time.time() - t0:.0f} s)")
    return points[key]


def row(config: str, kind: str, top: Optional[float], top_note: str, fps: float, totals: dict, budget: dict,
        fits: bool, target=None, series: str = "", top1_label: str = "", mapping: str = "") -> dict:
    """One table row; LUT/BRAM18 in % of the board; ``series``: the plot line it belongs to;
    ``top1_label``: shown beside the top-1 (where it was measured, when not by this run); ``mapping``:
    which of our mappings built it (a plot panel each; empty for the peer, drawn in every panel)."""
    return {"config": config, "kind": kind, "series": series or config, "mapping": mapping, "target_fps": target,
            "top1": top, "top1_source": top_note, "top1_label": top1_label,
            "fps": round(fps, 1), "lut": totals["lut"], "bram18": totals["bram18"], "dsp": totals["dsp"],
            "lut_pct": round(100 * totals["lut"] / budget["lut"], 1),
            "bram_pct": round(100 * totals["bram18"] / budget["bram18"], 1), "fits": bool(fits)}


def cnv_top1(trained: Path = peer_cnv.TRAINED_PEER) -> Tuple[float, str, str]:
    """(top-1, its source, its label) for the CNV-W2A2 rows: the CNV-W2A2 trained on the same copy as
    ours when the campaign has published it, else the published figure (another test set)."""
    here = peer_cnv.trained_here(trained)
    if here:
        return here["top1"], here["top1_source"], "trained here"
    return peer_cnv.PEER_TOP1, peer_cnv.PEER_TOP1_SOURCE, "published, official test set"


def measure(checkpoints: List[Path], targets: List[float], data: Path, cnv: bool = True,
            mappings: Tuple[str, ...] = ("default",)) -> List[dict]:
    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.compile.finn_env import activate

    board = load_board("pynq-z2")
    CACHE.mkdir(parents=True, exist_ok=True)
    activate(CACHE)
    rows = []
    for ck in checkpoints:
        top, note = top1(ck, data)
        for mapping in mappings:
            for fps in targets:
                p = our_point(ck, fps, board, MAPPINGS[mapping])
                series = f"{p['model']} {p['quant']} ({ck.name}{', ' + mapping if MAPPINGS[mapping] else ''})"
                rows.append(row(f"{series} @ {fps:,.0f}", "hwsqueeze", top, note, p["fps"], p["totals"], p["budget"],
                                p["fits"], fps, series, mapping=mapping))
    if cnv:
        top, note, label = cnv_top1()
        onnx = peer_cnv.CACHE / "cnv_w2a2.onnx"
        if not onnx.is_file():
            peer_cnv.CACHE.mkdir(parents=True, exist_ok=True)
            peer_cnv.export_cnv(onnx)
        builds = [("CNV-W2A2, finn-examples folding", None,
                   peer_cnv.finn_build(onnx, peer_cnv.CACHE / "finn_examples", board,
                                       folding=peer_cnv.FINN_EXAMPLES_FOLDING))]
        from hwsqueeze.compile.folding import MVAU_WWIDTH_MAX

        for fps in targets:
            builds.append((f"CNV-W2A2, FINN folding @ {fps:,.0f}", fps,
                           peer_cnv.finn_build(onnx, peer_cnv.CACHE / f"fps_{int(round(fps))}", board,
                                               target_fps=int(round(fps)), mvau_wwidth_max=MVAU_WWIDTH_MAX)))
        for name, fps, out in builds:
            f = peer_cnv.cnv(out, board, name)
            rows.append(row(name, "cnv_w2a2", top, note, f["fps"], f["total"], f["budget"], f["fits"], fps,
                            "CNV-W2A2, FINN folding" if fps else name, label))
    return rows


def markdown(rows: List[dict], margin: float = MARGIN) -> str:
    """The Pareto table (rows in the order given)."""
    out = [f"| config | top-1 | est. FPS | LUT % | BRAM18 % | DSP | fits {margin:.0%} |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        top = "not measured" if r["top1"] is None else f"{100 * r['top1']:.2f} %"
        if r["top1_label"] and r["top1"] is not None:
            top += f" ({r['top1_label']})"
        out.append(f"| {r['config']} | {top} | {r['fps']:,.0f} | {r['lut_pct']:.1f} | {r['bram_pct']:.1f} | "
                   f"{r['dsp']} | {'yes' if r['fits'] else 'no'} |")
    return "\n".join(out)


def plot(rows: List[dict], path: Path, margin: float = MARGIN) -> None:
    """Top-1 vs est. FPS, one panel per mapping of ours (the peer in each), one thin line per series;
    colour = LUT %, marker size = BRAM18 %, CNV-W2A2 triangles, designs over the ``margin`` budget
    hollow (and the budget marked on the colour bar). Panels, because two mappings of one checkpoint
    share every (FPS, top-1) point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    from hwsqueeze.fsutil import atomic_write

    pts = [r for r in rows if r["top1"] is not None]
    panels = list(dict.fromkeys(r.get("mapping", "") for r in pts if r["kind"] == "hwsqueeze")) or [""]
    norm, cmap = Normalize(0, 120), plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 1.6, 5.5), sharey=True, squeeze=False)
    fig.subplots_adjust(bottom=0.24, top=0.88, wspace=0.06)
    for ax, mapping in zip(axes[0], panels):
        mine = [r for r in pts if r["kind"] != "hwsqueeze" or r.get("mapping", "") == mapping]
        for name in dict.fromkeys(r["series"] for r in mine):
            line = sorted((r for r in mine if r["series"] == name), key=lambda r: r["fps"])
            ax.plot([r["fps"] for r in line], [100 * r["top1"] for r in line], color="grey", lw=0.8, zorder=1)
            one = len(line) == 1  # a lone point is labelled below it, a line above its first point
            label = name.split(" (")[0] if line[0]["kind"] == "hwsqueeze" else name
            ax.annotate(label, (line[0]["fps"], 100 * line[0]["top1"]), textcoords="offset points",
                        xytext=(-6, -20) if one else (-6, 11), ha="left", fontsize=8)
        for r in mine:
            c = cmap(norm(r["lut_pct"]))
            ax.scatter(r["fps"], 100 * r["top1"], s=40 + 2.5 * r["bram_pct"],
                       marker="^" if r["kind"] == "cnv_w2a2" else "o",
                       facecolors=c if r["fits"] else "none", edgecolors=c, linewidths=1.8, zorder=2)
        ax.set_title(f"ours: {mapping}" if mapping else "", fontsize=9)
        ax.set_xlabel("estimated FPS at 100 MHz", fontsize=9)
        ax.grid(alpha=0.3)
    if pts:
        lo, hi = min(100 * r["top1"] for r in pts), max(100 * r["top1"] for r in pts)
        axes[0][0].set_ylim(lo - 0.6, hi + 0.8)
    axes[0][0].set_ylabel("CIFAR-10 top-1 (%)")
    ax = axes[0][0]
    for marker, label in (("o", "hwsqueeze (one line per checkpoint)"), ("^", "CNV-W2A2 (finn-examples / FINN folding)")):
        ax.scatter([], [], marker=marker, color="grey", label=label)
    ax.scatter([], [], marker="o", facecolors="none", edgecolors="grey",
               label=f"hollow: over {margin:.0%} of the LUTs or BRAM18s")
    ax.scatter([], [], marker="o", color="grey", s=40 + 250, label="marker size: BRAM18 % (0 .. 100)")
    cb = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=list(axes[0]))
    cb.set_label(f"LUT % of xc7z020, whole design (red: the {margin:.0%} budget)")
    cb.ax.axhline(100 * margin, color="red", linewidth=2)
    fig.suptitle("Accuracy vs frame rate vs resources on the PYNQ-Z2 (FINN+ 1.6.1 estimates + FIFOs, DWCs, "
                 "DMAs, shell)", fontsize=10)
    fig.legend(loc="lower center", ncol=2, fontsize=8, frameon=False)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    finally:
        plt.close(fig)


def main(argv=None) -> int:
    from hwsqueeze.fsutil import write_json, write_text
    from hwsqueeze.train.checkpoint import DEFAULT_CHECKPOINT

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", nargs="*", type=Path, help="checkpoints (default: the shipped model)")
    ap.add_argument("--fps", default=",".join(str(f) for f in DEFAULT_FPS), help="target FPS values, comma-separated")
    ap.add_argument("--data", type=Path, default=CIFAR, help="CIFAR-10 archive for top-1 (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                    help="folder for pareto.md, pareto.json, pareto.png (default: %(default)s)")
    ap.add_argument("--no-cnv", action="store_true", help="leave out the CNV-W2A2 rows")
    ap.add_argument("--mappings", default=",".join(MAPPINGS),
                    help=f"our mappings to build, comma-separated, of: {', '.join(MAPPINGS)} (default: all)")
    args = ap.parse_args(argv)
    try:
        targets = [float(x) for x in args.fps.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--fps {args.fps!r}: expected numbers separated by commas")
    if not targets or min(targets) <= 0:
        ap.error(f"--fps {args.fps!r}: give at least one positive number")
    mappings = tuple(m.strip() for m in args.mappings.split(",") if m.strip())
    if not mappings or any(m not in MAPPINGS for m in mappings):
        ap.error(f"--mappings {args.mappings!r}: expected some of {', '.join(MAPPINGS)}, comma-separated")
    cks = args.checkpoints or [Path(DEFAULT_CHECKPOINT)]
    for ck in cks:
        if not ck.is_file():
            ap.error(f"checkpoint not found: {ck}")
    import logging

    from hwsqueeze.logs import to_console

    to_console(logging.INFO, sys.stderr)  # our builds' step lines are the progress of the long part
    rows = measure([ck.resolve() for ck in cks], targets, args.data, cnv=not args.no_cnv, mappings=mappings)
    table = markdown(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "pareto.md", table + "\n")
    write_json(args.out / "pareto.json", rows)
    plot(rows, args.out / "pareto.png")
    print(table)
    skipped = sorted({r["top1_source"] for r in rows if r["top1"] is None})
    for why in skipped:
        print(f"\ntop-1 {why}")
    print(f"\nwritten: {args.out / 'pareto.md'}, pareto.json, pareto.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
