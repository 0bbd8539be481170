"""Estimate reports: estimates.json (machines), estimates.md (people), estimates.png (eyes), and
the files FINN users' scripts look for in ``report/`` (written by FINN's own analysis passes)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

from ..fsutil import write_json
from ..fsutil import write_text as _write
from .boards import Board
from .estimates import SHALLOW_DEPTH, IODMA_OVERHEAD, SHELL_OVERHEAD, Estimate

__all__ = ["write_reports", "write_finn_reports", "write_time_per_step", "write_resources", "RESOURCES_JSON"]

RESOURCES_JSON = "report/resources.json"  # the design's resources: the estimate until Vivado measured them


def write_finn_reports(model, board: Board, out_dir: Path) -> None:
    """``report/estimate_layer_resources.json``, ``estimate_layer_cycles.json`` and
    ``estimate_network_performance.json`` exactly as FINN+'s ``step_generate_estimate_reports``
    computes them (its analysis passes on the same folded graph). These are layers only; our
    ``estimates.json`` adds FIFOs, width converters, DMAs and the shell."""
    from finn.analysis.fpgadataflow.dataflow_performance import dataflow_performance
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.op_and_param_counts import aggregate_dict_keys
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.annotate_cycles import AnnotateCycles

    report = Path(out_dir) / "report"
    report.mkdir(exist_ok=True)
    write_json(report / "estimate_layer_cycles.json", model.analysis(exp_cycles_per_layer), indent=2)
    res = model.analysis(lambda m: res_estimation(m, fpgapart=board.part))
    res["total"] = aggregate_dict_keys(res)
    write_json(report / "estimate_layer_resources.json", res, indent=2)
    perf = dict(model.transform(AnnotateCycles()).analysis(dataflow_performance))
    perf["estimated_throughput_fps"] = board.clock_mhz * 1e6 / perf["max_cycles"]
    perf["estimated_latency_ns"] = perf["critical_path_cycles"] * board.clk_ns
    write_json(report / "estimate_network_performance.json", perf, indent=2)


def write_time_per_step(out_dir: Path, seconds: Dict[str, float]) -> None:
    """``report/time_per_step.json`` as FINN's builder writes it (with ``total_build_time``)."""
    report = Path(out_dir) / "report"
    report.mkdir(exist_ok=True)
    write_json(report / "time_per_step.json", {**seconds, "total_build_time": sum(seconds.values())}, indent=2)


def write_resources(out_dir: Path, resources: dict) -> None:
    """``report/resources.json``: LUT/FF/BRAM18/DSP totals of the whole design with ``source`` saying
    whether they are FINN+'s estimate or Vivado's post-route utilisation (which then replaces the
    estimate; the estimate stays beside it under ``estimate`` for comparison)."""
    report = Path(out_dir) / "report"
    report.mkdir(exist_ok=True)
    write_json(Path(out_dir) / RESOURCES_JSON, resources, indent=2)


def write_reports(est: Estimate, board: Board, out_dir: Path, extra: Optional[dict] = None) -> None:
    """Write the three reports into ``out_dir`` (each atomically)."""
    from ..plots import estimates_png

    d = est.to_dict()
    d.update({"board": board.name, "part": board.part, **(extra or {})})
    _write(out_dir / "estimates.json", json.dumps(d, indent=1, default=str))
    _write(out_dir / "estimates.md", _markdown(est, board, extra or {}))
    estimates_png(d["layers"], est.totals, est.budget, est.margin, out_dir / "estimates.png",
                  title=f"{board.name}: {est.fps:,.0f} FPS at {est.clock_mhz:g} MHz (bottleneck {est.bottleneck})")


def _markdown(est: Estimate, board: Board, extra: dict) -> str:
    t, b = est.totals, est.budget
    pct = lambda k: f"{t[k] / max(1, b[k]):.0%}"  # noqa: E731
    lines = [f"# Estimates: {board.description}", "",
             f"- **{est.fps:,.0f} FPS** at {est.clock_mhz:g} MHz; latency {est.latency_ms:.2f} ms (layers overlapping "
             f"pixel by pixel, one frame into an idle pipeline; FINN's no-overlap sum of layer cycles on the "
             f"critical path: {est.latency_sum_ms:.2f} ms); bottleneck {est.bottleneck}",
             f"- **{'fits' if est.fits else 'does NOT fit'}** the budget with a {est.margin:.0%} margin on LUT and BRAM18"
             + ("" if est.fits else f": {'; '.join(est.limits)}"),
             f"- totals: LUT {t['lut']:,} / {b['lut']:,} ({pct('lut')}), BRAM18 {t['bram18']} / {b['bram18']} "
             f"({pct('bram18')}), DSP {t['dsp']} / {b['dsp']} ({pct('dsp')})",
             f"- folding target: {(extra.get('folding') or {}).get('target_fps')} FPS; MVAUs on DSPs: "
             f"{', '.join((extra.get('folding') or {}).get('dsp_layers') or []) or 'none'}; weights in LUTRAM: "
             f"{', '.join((extra.get('folding') or {}).get('lutram_layers') or []) or 'none'}", "",
             "## Beyond the layers", "", "| part | LUT | BRAM18 | DSP | how estimated |", "|---|---|---|---|---|"]
    how = {"width_converters": "FINN's InsertDWC on a copy + FINN's estimates",
           "fifos": "every FIFO FINN's InsertFIFO adds (>= 32 deep; Fire fork/join by rule), FINN+'s fitted FIFO model",
           "dmas": f"2 IODMAs x {IODMA_OVERHEAD['lut']} LUT, {IODMA_OVERHEAD['bram18']} BRAM18 (assumed)",
           "shell": f"AXI interconnect, reset, PS wrapper: {SHELL_OVERHEAD['lut']} LUT (assumed)"}
    for k, v in est.overhead.items():
        lines.append(f"| {k} | {v['lut']:,} | {v['bram18']} | {v['dsp']} | {how.get(k, '')} |")
    lines += ["", "## Layers", "", "LUT includes the threshold comparators (their own column) and threshold storage, "
              "which FINN+'s MVAU model counts only for `ram_style_thresholds=distributed`.", "",
              "| layer | op | folding | cycles | LUT | of which comparators | BRAM18 | DSP |",
              "|---|---|---|---|---|---|---|---|"]
    for e in est.layers:
        fold = ", ".join(f"{k}={v}" for k, v in e.folding.items() if k in ("PE", "SIMD", "resType"))
        lines.append(f"| {e.name} | {e.op} | {fold} | {e.cycles:,} | {e.lut:,} | {e.comparator_lut:,} | {e.bram18} "
                     f"| {e.dsp} |")
    lines += ["", "## Assumptions left (none can be measured without Vivado and a board)", "",
              f"- FIFOs: every ordinary FIFO at least {SHALLOW_DEPTH} words (FINN's simulation-based sizing decides the "
              "real depths; measuring needs Vivado's `fifo_depths` step or an RTL simulation of the stitched design).",
              f"- DMAs and shell: {IODMA_OVERHEAD['lut']:,} LUT per IODMA and {SHELL_OVERHEAD['lut']:,} for the rest, "
              "typical of FINN PYNQ builds, not measured (Vivado's post-route utilisation of a bitstream build "
              "replaces all estimates: `report/resources.json`).",
              "- Comparators and the RTL MVUs' adders: fits to Yosys' xc7 synthesis (a proxy for Vivado's mapping); "
              "threshold storage: FINN+'s own LUTRAM term.",
              "- Latency: FIFOs assumed deep enough that no layer stalls its producer; the input arrives one word per cycle.",
              "", "These are analytical estimates; only Vivado synthesis gives real numbers.", ""]
    return "\n".join(lines)
