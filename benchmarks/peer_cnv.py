"""hwsqueeze's shipped model side by side with the accelerator a PYNQ-Z2 user would pick today:
finn-examples' CNV-W2A2 (Brevitas' ``cnv_2w2a`` from ``brevitas_examples.bnn_pynq``).

The peer is built through FINN+'s OWN ``build_dataflow`` (finn.builder, its estimate-only step list)
on the same part and clock as our build, twice: (a) with finn-examples' folding config for
cnv-w2a2, (b) folded by FINN's ``target_fps`` for our build's frame rate. Weights are random
(seeded): FINN's estimates depend on shapes, bit widths and folding, not on weight values.

Both columns are compared like with like, from the same functions:
* layers only: FINN+'s ``res_estimation`` per layer (FINN's ``report/estimate_layer_resources.json``;
  our build writes the same file with the same analysis pass), FPS from FINN's
  ``estimate_network_performance.json`` (clock / slowest layer's cycles);
* whole design: ``hwsqueeze.compile.estimates.estimate`` on each folded graph (layers + width
  converters + FIFOs + 2 IODMAs + shell, the overhead model that owns our build's figures).

Our column comes from our own build (``build/pynq-z2`` by default; ``make build`` writes it); our
top-1 is the shipped checkpoint's measured CIFAR-10 test accuracy recorded with the build; the
peer's is the best published figure (Brevitas' pretrained cnv_2w2a, 89.03 %). FINN's builds are
cached under ``build/peer_cnv/`` (keyed by everything they depend on): a rerun takes seconds.

Usage:  python benchmarks/peer_cnv.py [--build build/pynq-z2] [--json] [--rebuild]
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, Optional

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "peer_cnv"
PEER_TOP1 = 0.8903  # Brevitas' pretrained cnv_2w2a on CIFAR-10 (brevitas_examples/bnn_pynq README)
PEER_TOP1_SOURCE = "published (Brevitas bnn_pynq cnv_2w2a; finn-examples' retrained model: 88.63 %)"
FINN_BOARD = "Pynq-Z2"
# the peer trained here on the shared JPEG copy (scripts/train_campaign.sh cnv; tracked, outside the wheel)
TRAINED_PEER = ROOT / "checkpoints" / "cnv-w2a2-cifar10-kd.pt"

# finn-examples build/bnn-pynq/folding_config/cnv-w2a2_folding_config.json (Xilinx/finn-examples,
# commit ffb0da3, FINN+ layer names). Numbers only: the PE/SIMD/memory style finn-examples ships.
FINN_EXAMPLES_FOLDING = {
    "Defaults": {},
    "Thresholding_rtl_0": {"PE": 1},
    "ConvolutionInputGenerator_rtl_0": {"SIMD": 3, "ram_style": "distributed"},
    "MVAU_hls_0": {"PE": 8, "SIMD": 3, "ram_style": "auto", "resType": "lut"},
    "ConvolutionInputGenerator_rtl_1": {"SIMD": 16, "ram_style": "distributed"},
    "MVAU_hls_1": {"PE": 16, "SIMD": 16, "ram_style": "auto", "resType": "lut"},
    "ConvolutionInputGenerator_rtl_2": {"SIMD": 16, "ram_style": "distributed"},
    "MVAU_hls_2": {"PE": 8, "SIMD": 16, "ram_style": "auto", "resType": "lut"},
    "ConvolutionInputGenerator_rtl_3": {"SIMD": 16, "ram_style": "distributed"},
    "MVAU_hls_3": {"PE": 8, "SIMD": 16, "ram_style": "block", "resType": "lut"},
    "ConvolutionInputGenerator_rtl_4": {"SIMD": 8, "ram_style": "distributed"},
    "MVAU_hls_4": {"PE": 4, "SIMD": 8, "ram_style": "auto", "resType": "lut"},
    "ConvolutionInputGenerator_rtl_5": {"SIMD": 8, "ram_style": "distributed"},
    "MVAU_hls_5": {"PE": 1, "SIMD": 8, "ram_style": "auto", "resType": "lut"},
    "MVAU_hls_6": {"PE": 1, "SIMD": 2, "ram_style": "distributed", "resType": "lut"},
    "MVAU_hls_7": {"PE": 2, "SIMD": 2, "ram_style": "block", "resType": "lut"},
    "MVAU_hls_8": {"PE": 5, "SIMD": 1, "ram_style": "distributed", "resType": "lut"},
    "LabelSelect_hls_0": {"PE": 1},
}


def say(msg: str) -> None:
    """Progress line (stderr, so ``--json`` stays one clean object on stdout)."""
    print(f"[peer_cnv {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def export_cnv(path: Path, seed: int = 0) -> None:
    """Brevitas' CNV-W2A2 (random weights, ``seed``) -> QONNX at ``path``, prepared as finn-examples'
    models are: uint8 pixels in (``x / 255`` in front, input annotated UINT8), top-1 label out."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import cnv_2w2a
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.insert_topk import InsertTopK

    class Uint8In(torch.nn.Module):  # what FINN's old ToTensor pre-processing graph did
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x / 255.0)

    torch.manual_seed(seed)
    net = Uint8In(cnv_2w2a(pretrained=False)).eval()
    tmp = path.with_suffix(".tmp.onnx")
    with contextlib.redirect_stdout(sys.stderr):  # torch.onnx prints progress; stdout is for the table / --json
        export_qonnx(net, torch.randint(0, 256, (1, 3, 32, 32)).float(), export_path=str(tmp))
    m = ModelWrapper(str(tmp))
    m.set_tensor_datatype(m.graph.input[0].name, DataType["UINT8"])
    m = m.transform(InsertTopK(k=1))
    m.save(str(path))
    tmp.unlink()


def _key(parts: Dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def map_folding(model, folding: dict) -> dict:
    """finn-examples' config on FINN+ 1.6.1's layer names. MVAU, Thresholding and LabelSelect names
    match; its ``ConvolutionInputGenerator_rtl_k`` is the k-th CONV's window generator, but FINN+
    1.6.1 lowers each MaxPool to a window generator + Pool too, which shifts the numbering (taken
    by name, conv 3's SIMD would land on pool 1's generator). So window generators are matched
    by role (the ones feeding an MVAU, in order); the pools keep FINN's defaults (the config,
    written for StreamingMaxPool, has no entry for them). A config layer with no counterpart of
    the same kind is an error."""
    convs = [n.name for n in model.graph.node if n.op_type.startswith("ConvolutionInputGenerator")
             and (model.find_consumer(n.output[0]) or n).op_type.startswith("MVAU")]
    nodes = {n.name: n.op_type for n in model.graph.node}
    out = {"Defaults": dict(folding.get("Defaults", {}))}
    for name, attrs in folding.items():
        if name == "Defaults":
            continue
        if name.startswith("ConvolutionInputGenerator"):
            k = int(name.rsplit("_", 1)[1])
            if k >= len(convs):
                raise SystemExit(f"error: folding config {name}: the graph has only {len(convs)} conv window generators")
            out[convs[k]] = dict(attrs)
        elif nodes.get(name) == name.rsplit("_", 1)[0]:  # same layer, same kind (e.g. MVAU_hls_3 is an MVAU_hls)
            out[name] = dict(attrs)
        else:
            raise SystemExit(f"error: folding config {name}: no such layer in FINN+'s CNV graph ({', '.join(nodes)})")
    return out


def _step_apply_mapped_folding(model, cfg):
    """Custom FINN build step in place of ``step_apply_folding_config``: :func:`map_folding` of the
    config file, then FINN's own ``ApplyConfig`` (what that step does), the mapped config saved."""
    from finn.transformation.general import ApplyConfig

    mapped = map_folding(model, json.loads(Path(cfg.folding_config_file).read_text()))
    Path(cfg.output_dir, "folding_config_mapped.json").write_text(json.dumps(mapped, indent=1))
    return model.transform(ApplyConfig(mapped))


@contextlib.contextmanager
def _finn_logging_contained():
    """FINN's builder replaces the root logger's handlers (``basicConfig(force=True)``) and leaves
    ``sys.stdout``/``sys.stderr`` wrapped into its build log after a successful build: put them back.
    Its console output goes to stderr meanwhile."""
    root = logging.getLogger()
    saved = (sys.stdout, sys.stderr, list(root.handlers), root.level)
    sys.stdout = sys.stderr  # FINN's console lines are progress: keep stdout for the table / JSON
    try:
        yield
    finally:
        for h in root.handlers:
            if h not in saved[2]:
                h.close()
        sys.stdout, sys.stderr = saved[0], saved[1]
        root.handlers[:] = saved[2]
        root.setLevel(saved[3])
        logging.captureWarnings(False)


def finn_build(onnx: Path, out: Path, board, *, folding: Optional[dict] = None, target_fps: Optional[int] = None,
               mvau_wwidth_max: int = 36) -> Path:
    """FINN+'s own ``build_dataflow_cfg`` (its estimate-only step list) of ``onnx`` into ``out/finn``,
    with finn-examples-style ``folding`` (applied by :func:`map_folding`) or a ``target_fps``
    (FINN's SetFolding); reused when ``out/peer_key.json`` says it was made from the same inputs."""
    from importlib import metadata

    key = _key({"onnx": hashlib.sha256(onnx.read_bytes()).hexdigest(), "folding": folding, "fps": target_fps,
                "wwidth": mvau_wwidth_max, "part": board.part, "clock": board.clock_mhz, "mapping": "by-role-1",
                "finn": metadata.version("finn-plus"), "brevitas": metadata.version("brevitas")})
    stamp = out / "peer_key.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("key") == key:
        say(f"reusing FINN build {out} (same inputs)")
        return out
    if out.exists():
        shutil.rmtree(out)  # our own cache folder (keyed above) and stale
    out.mkdir(parents=True)
    import finn.builder.build_dataflow as build
    import finn.builder.build_dataflow_config as bc

    steps = list(bc.estimate_only_dataflow_steps)
    cfg_file = None
    if folding is not None:
        cfg_file = out / "folding_config.json"
        cfg_file.write_text(json.dumps(folding, indent=1))
        steps[steps.index("step_apply_folding_config")] = _step_apply_mapped_folding
    cfg = bc.DataflowBuildConfig(
        output_dir=str(out / "finn"), synth_clk_period_ns=board.clk_ns, board=FINN_BOARD, fpga_part=board.part,
        shell_flow_type=bc.ShellFlowType.VIVADO_ZYNQ, folding_config_file=str(cfg_file) if cfg_file else None,
        target_fps=target_fps, mvau_wwidth_max=mvau_wwidth_max, steps=steps,
        generate_outputs=[bc.DataflowOutputType.ESTIMATE_REPORTS], save_intermediate_models=True)
    t0 = time.time()
    say(f"FINN+ build_dataflow -> {out} ({'finn-examples folding' if folding else f'target_fps={target_fps}'}; "
        "~10-60 s)")
    with _finn_logging_contained():
        rc = build.build_dataflow_cfg(str(onnx), cfg)
    if rc != 0 or not (out / "finn" / "report" / "estimate_layer_resources.json").is_file():
        raise SystemExit(f"error: FINN+ build_dataflow failed (rc {rc}); see {out / 'finn' / 'build_dataflow.log'}")
    say(f"FINN+ build done in {time.time() - t0:.0f} s")
    stamp.write_text(json.dumps({"key": key}))
    return out


def figures(model, board) -> dict:
    """The same figures for any folded HW graph: FPS from the slowest layer's cycles (FINN's
    ``get_exp_cycles``), layers-only resources (FINN's ``res_estimation``, what its
    ``estimate_layer_resources.json`` holds) and whole-design totals (``estimates.estimate``:
    layers + width converters + FIFOs + IODMAs + shell), weight count and bits of the MVAUs."""
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from qonnx.core.datatype import DataType
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.estimates import estimate

    cycles = model.analysis(exp_cycles_per_layer)
    res = model.analysis(lambda m: res_estimation(m, fpgapart=board.part))
    layers = {"lut": 0, "bram18": 0, "dsp": 0}
    for r in res.values():
        layers["lut"] += int(r["LUT"])
        layers["bram18"] += int(r["BRAM_18K"])
        layers["dsp"] += int(r["DSP"])
    est = estimate(model, board)
    weights = bits = 0
    for n in model.graph.node:
        if n.op_type.startswith("MVAU"):
            op = getCustomOp(n)
            w = int(op.get_nodeattr("MW")) * int(op.get_nodeattr("MH"))
            weights += w
            bits += w * DataType[op.get_nodeattr("weightDataType")].bitwidth()
    slowest = max(cycles, key=cycles.get)
    return {"fps": board.clock_mhz * 1e6 / cycles[slowest], "max_cycles": int(cycles[slowest]), "bottleneck": slowest,
            "layers": layers, "total": dict(est.totals), "overhead": est.overhead, "fits": est.fits,
            "budget": dict(est.budget), "margin": est.margin, "weights": weights, "weight_bits": bits,
            "comparator_lut": sum(e.comparator_lut for e in est.layers), "latency_ms": est.latency_ms,
            "layers_ours": {k: sum(getattr(e, k) for e in est.layers) for k in ("lut", "bram18", "dsp")},
            "latency_sum_ms": est.latency_sum_ms}


def ours(build: Optional[Path], board) -> dict:
    """Our column from our own build's folded graph (the estimates step's graph) and its
    record (checkpoint, measured top-1); without ``build``, an estimate-only build of the shipped
    model into ``build/peer_cnv/hwsqueeze`` (auto folding, as ``make build``; resumable)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.config import BuildConfig, BuildState
    from hwsqueeze.errors import HwsqueezeError
    from hwsqueeze.compile.pipeline import intermediate_path

    if build is None:
        from hwsqueeze.compile.runner import run_build

        build = CACHE / "hwsqueeze"
        fresh = not (build / "build_state.json").is_file()
        say(f"no hwsqueeze build given: estimate-only build of the shipped model in {build} (~2-5 min when new)")
        try:  # resume: only the estimates step reruns when nothing it depends on changed
            run_build(BuildConfig(board=board, out_dir=build, estimate_only=True,
                                  from_step=None if fresh else "estimates"))
        except HwsqueezeError as e:
            say(f"cannot resume ({e}); building from the start")
            run_build(BuildConfig(board=board, out_dir=build, estimate_only=True))
    graph = intermediate_path(build, "estimates")
    if not graph.is_file():
        raise SystemExit(f"error: {graph} not found: run `make build` (or `hwsqueeze build --estimate-only`) first")
    state = BuildState.load(build / "build_state.json")
    if state.board != board.name:
        raise SystemExit(f"error: {build} was built for {state.board}, not {board.name}")
    src = state.source
    f = figures(ModelWrapper(str(graph)), board)
    f.update(top1=src.get("test_top1"), top1_source="measured (CIFAR-10 test set, recorded in the checkpoint)",
             label=f"hwsqueeze {src.get('model', '?')} {src.get('quant', '?')}", build=str(build),
             checkpoint=state.provenance.get("source", ""))
    return f


def cnv(out: Path, board, label: str) -> dict:
    """:func:`figures` of a FINN build's folded graph, checked against FINN's own reports of it."""
    from qonnx.core.modelwrapper import ModelWrapper

    finn = out / "finn"
    f = figures(ModelWrapper(str(finn / "intermediate_models" / "step_generate_estimate_reports.onnx")), board)
    rep = json.loads((finn / "report" / "estimate_layer_resources.json").read_text())["total"]
    perf = json.loads((finn / "report" / "estimate_network_performance.json").read_text())
    theirs = {"lut": int(rep["LUT"]), "bram18": int(rep["BRAM_18K"]), "dsp": int(rep["DSP"])}
    if theirs != f["layers"] or abs(perf["estimated_throughput_fps"] - f["fps"]) > 1e-6 * f["fps"]:
        raise SystemExit(f"error: {label}: our reading of FINN's graph ({f['layers']}, {f['fps']:.1f} FPS) differs "
                         f"from FINN's reports ({theirs}, {perf['estimated_throughput_fps']:.1f} FPS)")
    f.update(top1=PEER_TOP1, top1_source=PEER_TOP1_SOURCE, label=label, build=str(out))
    return f


def trained_here(path: Path = TRAINED_PEER) -> Optional[dict]:
    """``{"top1", "top1_source", "checkpoint"}`` of the CNV-W2A2 trained on this copy (its last recorded
    test evaluation), or None before ``scripts/train_campaign.sh cnv`` has published it. Its hardware
    figures are the finn-examples row's: the estimates depend on shapes, bits and folding, not weights."""
    if not path.is_file():
        return None
    from hwsqueeze.train.checkpoint import load_checkpoint

    ck = load_checkpoint(path)
    evals = [m for m in ck.get("metrics", []) if "test_top1" in m]
    if not evals:
        raise SystemExit(f"error: {path} records no test evaluation")
    name = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
    return {"top1": float(evals[-1]["test_top1"]), "checkpoint": str(name),
            "top1_source": f"measured (the shared JPEG copy, {path.name}, epoch {evals[-1]['epoch']})"}


def to_json(ours_f: dict, peer_f: dict, peer_at_ours: dict) -> dict:
    """``{"hwsqueeze": {...}, "cnv_w2a2": {...}}``: top1, fps and the whole-design lut/bram18/dsp
    (layers + the same overhead model) of each, layers-only beside them; the peer folded for our
    frame rate under ``cnv_w2a2["at_hwsqueeze_fps"]``."""
    def row(f: dict) -> dict:
        return {"top1": f["top1"], "top1_source": f["top1_source"], "fps": round(f["fps"], 1),
                "lut": f["total"]["lut"], "bram18": f["total"]["bram18"], "dsp": f["total"]["dsp"],
                "layers_only": dict(f["layers"]), "overhead": f["overhead"], "fits": f["fits"],
                "weights": f["weights"], "weight_bits": f["weight_bits"], "bottleneck": f["bottleneck"],
                "build": f["build"], "comparator_lut": f["comparator_lut"], "latency_ms": f["latency_ms"],
                "latency_sum_ms": f["latency_sum_ms"]}
    peer = row(peer_f)
    peer["at_hwsqueeze_fps"] = row(peer_at_ours)
    peer["trained_here"] = trained_here()  # None until the campaign's cnv stage is published
    return {"hwsqueeze": row(ours_f), "cnv_w2a2": peer}


def markdown(rows) -> str:
    """The side-by-side table; ``rows`` = [(name, figures dict), ...]."""
    head = ("| | top-1 | est. FPS | latency pipelined / FINN's sum | LUT layers only (FINN+) | BRAM18 layers only "
            "| DSP | LUT total | of which comparators | BRAM18 total | fits 85 % | weights |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")
    out = [head]
    for name, f in rows:
        top1 = "-" if f["top1"] is None else f"{100 * f['top1']:.2f} % ({f['top1_source'].split(' ')[0]})"
        lay, tot, bud = f["layers"], f["total"], f["budget"]
        out.append(f"| {name} | {top1} | {f['fps']:,.0f} | {f['latency_ms']:.2f} / {f['latency_sum_ms']:.2f} ms | "
                   f"{lay['lut']:,} | {lay['bram18']} | {tot['dsp']} | "
                   f"{tot['lut']:,} ({100 * tot['lut'] / bud['lut']:.0f} %) | {f['comparator_lut']:,} | "
                   f"{tot['bram18']} ({100 * tot['bram18'] / bud['bram18']:.0f} %) | {'yes' if f['fits'] else 'no'} | "
                   f"{f['weights'] / 1e6:.2f} M, {f['weight_bits'] / 8e6:.2f} MB |")
    return "\n".join(out)


def measure(build: Optional[Path], rebuild: bool = False) -> tuple:
    """Build (or reuse) everything and return (ours, peer with finn-examples folding, peer at our FPS)."""
    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.compile.finn_env import activate
    from hwsqueeze.compile.folding import MVAU_WWIDTH_MAX
    from hwsqueeze.compile.pipeline import intermediate_path

    board = load_board("pynq-z2")
    CACHE.mkdir(parents=True, exist_ok=True)
    activate(CACHE)
    if build is None and intermediate_path(ROOT / "build" / board.name, "estimates").is_file():
        build = ROOT / "build" / board.name
    o = ours(build, board)
    say(f"ours: {o['label']} from {o['build']}: {o['fps']:,.1f} FPS")
    onnx = CACHE / "cnv_w2a2.onnx"
    if rebuild or not onnx.is_file():
        say("exporting Brevitas cnv_2w2a (random weights) to QONNX")
        export_cnv(onnx)
    a = cnv(finn_build(onnx, CACHE / "finn_examples", board, folding=FINN_EXAMPLES_FOLDING), board,
            "CNV-W2A2, finn-examples folding")
    fps = int(round(o["fps"]))
    # FINN's SetFolding with the same weight-stream cap our folding uses (default 36 limits SIMD)
    b = cnv(finn_build(onnx, CACHE / f"fps_{fps}", board, target_fps=fps, mvau_wwidth_max=MVAU_WWIDTH_MAX),
            board, f"CNV-W2A2 folded by FINN for {fps:,} FPS")
    return o, a, b


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", type=Path, default=None,
                    help="our build folder (default: build/pynq-z2 if built, else an estimate-only build)")
    ap.add_argument("--json", action="store_true", help='print {"hwsqueeze": {...}, "cnv_w2a2": {...}}')
    ap.add_argument("--rebuild", action="store_true", help="re-export the CNV (its FINN builds rerun if it changed)")
    args = ap.parse_args(argv)
    import logging

    from hwsqueeze.logs import to_console

    to_console(logging.INFO, sys.stderr)  # our builds' step lines are the progress of the long part
    o, a, b = measure(args.build, args.rebuild)
    if args.json:
        print(json.dumps(to_json(o, a, b)))
        return 0
    here = trained_here()
    rows = [(a["label"] + ", published top-1 (official test set)", a)]
    if here:
        rows.append(("CNV-W2A2, trained here (this copy), finn-examples folding", {**a, **here}))
    rows += [(b["label"], b), (o["label"] + " (shipped)", o)]
    print(markdown(rows))
    if not here:
        print(f"\n(No CNV-W2A2 trained here yet: {TRAINED_PEER.relative_to(ROOT)} is published by "
              "`bash scripts/train_campaign.sh cnv`.)")
    print("\nLUT/BRAM18 total = layers (threshold comparators and storage counted) + width converters + FIFOs + "
          "2 IODMAs + shell, the same model "
          "(hwsqueeze/compile/estimates.py) on both graphs; xc7z020 @ 100 MHz; 'fits' = within 85 % of LUT "
          "and BRAM18. Peer top-1: " + PEER_TOP1_SOURCE + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
