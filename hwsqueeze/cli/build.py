"""`hwsqueeze build` and `hwsqueeze boards`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import click

from ..compile.boards import MARGIN
from ..compile.config import FOLDING_SEARCHES, VERIFY_N
from ..errors import HwsqueezeError


def _fps(value: str):
    if value == "auto":
        return "auto"
    try:
        fps = float(value)
    except ValueError:
        raise HwsqueezeError(f"--target-fps must be a number or 'auto', not {value!r}") from None
    if not 0 < fps < float("inf"):  # nan, inf ("1e999") and negatives
        raise HwsqueezeError(f"--target-fps must be a positive finite number or 'auto', not {value!r}")
    return fps


@click.command()
@click.option("--board", "board_name", default="pynq-z2", show_default=True,
              help="A board name (see `hwsqueeze boards`), FINN's name for it (Pynq-Z2, ZCU104, KV260_SOM) or a "
                   "board .yaml file.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Trained checkpoint, or a shipped model's name (`hwsqueeze models`); default: the shipped default.")
@click.option("--model", "model_name", default=None,
              help="Build an untrained registry model instead (e.g. squeezenet1_1-imagenet), for estimates.")
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False), default=None,
              help="Start from an existing QONNX export (uint8 NCHW image input) instead of a checkpoint.")
@click.option("--target-fps", default="auto", show_default=True,
              help="Frames/s to fold for, or 'auto' = the fastest design that fits the board.")
@click.option("--folding-config", type=click.Path(dir_okay=False), default=None,
              help="A FINN folding config (JSON, e.g. an edited build/<board>/folding_config.json) instead of the "
                   "folding search.")
@click.option("--folding-search", type=click.Choice(FOLDING_SEARCHES), default=FOLDING_SEARCHES[0], show_default=True,
              help="How PE/SIMD are chosen: per layer for the fewest LUTs within the DSP/BRAM budget (layerwise), "
                   "or FINN's SetFolding (smallest parallelism per layer) plus DSP/LUTRAM levers.")
@click.option("--samples", "samples", default=None,
              help="Dataset whose test images (16, across the classes, with true labels) ship as the package's "
                   "samples. Default: the checkpoint's training data if present, else synthetic images.")
@click.option("--margin", type=click.FloatRange(0.1, 1.0), default=MARGIN, show_default=True,
              help="Fraction of the board's LUT and BRAM18 a design may use.")
@click.option("--no-dsp", is_flag=True, help="Keep all MVAU multipliers in LUTs.")
@click.option("--verify-images", type=click.IntRange(1, 1024), default=VERIFY_N, show_default=True,
              help="Images every graph step is checked on, bit-exact against the model (fewer: faster on large "
                   "inputs such as 224x224).")
@click.option("--fuse-fire/--no-fuse-fire", default=False, show_default=True,
              help="Replace each Fire module's expand fork/join (DuplicateStreams, two MVAUs, StreamingConcat) by "
                   "the project's fused FireExpand HLS layer (hls/fire_expand.hpp).")
@click.option("--standalone-thresholds/--no-standalone-thresholds", default=False, show_default=True,
              help="Thresholds as their own layers (FINN's standalone_thresholds), so every MVAU can be FINN+'s "
                   "DSP-packed RTL MVU: several MACs per DSP instead of LUT multipliers.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Build directory (default: build/<board>).")
@click.option("--from-step", default=None, help="Resume from this step (see --list-steps).")
@click.option("--stop-step", default=None, help="Stop after this step (see --list-steps).")
@click.option("--estimate-only", is_flag=True, help="Stop after the estimates (no code generation).")
@click.option("--require-bitstream", is_flag=True, help="Fail (exit 4) if no bitstream can be built here.")
@click.option("--replay", "replay", type=click.Path(file_okay=False), default=None,
              help="Rebuild what BUILD/build_config.json records (from the first step; --out for another folder).")
@click.option("--list-steps", is_flag=True, help="Print the build steps and exit.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the build summary (build.json) as one JSON object.")
def build(board_name: str, checkpoint: Optional[str], model_name: Optional[str], onnx_path: Optional[str],
          target_fps: str, folding_config: Optional[str], folding_search: str, samples: Optional[str], margin: float,
          no_dsp: bool, verify_images: int, fuse_fire: bool, standalone_thresholds: bool, out_dir: Optional[str],
          from_step: Optional[str], stop_step: Optional[str], estimate_only: bool, require_bitstream: bool,
          replay: Optional[str], list_steps: bool, quiet: bool, as_json: bool) -> None:
    """Compile a trained model with FINN+ into a dataflow accelerator for a board.

    Every stage up to HLS/RTL code generation and the deploy package runs on any machine; IP
    generation, FIFO sizing and the bitstream need vitis_hls and vivado on PATH.
    """
    from ..compile.config import BuildConfig
    from ..compile.pipeline import STEPS

    if list_steps:
        for i, step in enumerate(STEPS):
            click.echo(f"{i:02d} {step.name:20s} {'[vivado] ' if step.needs_tools else ''}{step.doc}")
        return
    if replay:
        return _replay(Path(replay), out_dir, quiet, as_json)
    from ..compile.boards import load_board
    from ..train.shipped import checkpoint_path

    board = load_board(board_name)
    fps = _fps(target_fps)
    if folding_config and target_fps != "auto":
        raise HwsqueezeError("give either --folding-config or --target-fps, not both")
    out = Path(out_dir) if out_dir else Path("build") / board.name
    cfg = BuildConfig(board=board, out_dir=out, checkpoint=checkpoint_path(checkpoint) if checkpoint else None,
                      model_name=model_name, onnx=Path(onnx_path) if onnx_path else None, target_fps=fps,
                      folding_config=Path(folding_config).resolve() if folding_config else None, margin=margin,
                      use_dsps=not no_dsp, fuse_fire=fuse_fire, folding_search=folding_search,
                      standalone_thresholds=standalone_thresholds, estimate_only=estimate_only,
                      require_bitstream=require_bitstream, from_step=from_step, stop_step=stop_step, samples=samples,
                      verify_n=verify_images)
    _run(cfg, quiet, as_json)


def _check_inputs(cfg) -> None:
    """Refuse, before any work, a config whose files or step names do not exist."""
    from ..compile.pipeline import step_index

    if cfg.checkpoint and not Path(cfg.checkpoint).is_file():
        raise HwsqueezeError(f"checkpoint not found: {cfg.checkpoint}")
    if cfg.onnx and not Path(cfg.onnx).is_file():
        raise HwsqueezeError(f"ONNX file not found: {cfg.onnx}")
    if cfg.samples and not cfg.samples.startswith("generated:") and not Path(cfg.samples).exists():
        raise HwsqueezeError(f"--samples: dataset not found: {cfg.samples}")
    if cfg.folding_config and not Path(cfg.folding_config).is_file():
        raise HwsqueezeError(f"folding config not found: {cfg.folding_config}")
    for step in (cfg.from_step, cfg.stop_step):
        if step:
            step_index(step)  # an unknown name fails here, before any work
    if sum(x is not None for x in (cfg.checkpoint, cfg.model_name, cfg.onnx)) > 1:
        raise HwsqueezeError("give at most one of --checkpoint, --model, --onnx")


def _replay(build_dir: Path, out_dir: Optional[str], quiet: bool, as_json: bool) -> None:
    """``--replay BUILD``: the config BUILD recorded, rebuilt from the first step."""
    from ..compile.config import BuildConfig

    ctx = click.get_current_context()
    others = [p.opts[0] for p in ctx.command.params if p.name not in ("replay", "out_dir", "quiet", "as_json")
              and ctx.get_parameter_source(p.name) is not click.core.ParameterSource.DEFAULT]
    if others:
        raise HwsqueezeError(f"--replay rebuilds what {build_dir} recorded: it takes only --out, --quiet and --json "
                             f"(not {others[0]})")
    path = build_dir / "build_config.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise HwsqueezeError(f"--replay {build_dir}: no build_config.json (not an hwsqueeze build folder, or one "
                             "made before builds recorded their config)") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise HwsqueezeError(f"{path}: not readable JSON ({type(e).__name__})") from None
    cfg = BuildConfig.from_json(raw, str(path))
    cfg.from_step = None  # a replay is the whole build
    if out_dir:
        cfg.out_dir = Path(out_dir)
    _run(cfg, quiet, as_json)


def _run(cfg, quiet: bool, as_json: bool) -> None:
    """Check ``cfg``'s inputs, run the build, report it."""
    from ..compile.runner import run_build

    _check_inputs(cfg)
    if quiet or as_json:
        import logging

        from ..logs import to_console

        to_console(logging.WARNING)
    board = cfg.board
    res = run_build(cfg)
    if as_json:
        click.echo(json.dumps(res.summary, default=str))
        return
    est = res.summary.get("estimate") or {}
    click.echo(f"build {res.status}: {res.out_dir}")
    if est:
        click.echo(f"  estimate: {est['fps']:,.0f} FPS, {'fits' if est['fits'] else 'does not fit'} {board.name} "
                   f"(report: {res.out_dir / 'estimates.md'})")
    used = res.summary.get("resources") or {}
    if str(used.get("source", "")).startswith("vivado"):
        click.echo(f"  measured by Vivado: LUT {used['lut']:,}, BRAM18 {used['bram18']}, DSP {used.get('dsp', 0)}, "
                   f"WNS {(res.summary.get('timing') or {}).get('wns_ns')} ns (report: {res.out_dir / 'report'})")
    if res.message:
        click.echo(f"  {res.message}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
def boards(as_json: bool) -> None:
    """List the supported boards and their resources."""
    from ..compile.boards import list_boards

    bs = list_boards()
    if as_json:
        click.echo(json.dumps([b.__dict__ for b in bs], indent=1))
        return
    click.echo(f"{'board':12s} {'part':24s} {'MHz':>5s} {'LUT':>8s} {'FF':>8s} {'BRAM18':>7s} {'DSP':>6s} {'LUTRAM':>7s}")
    for b in bs:
        r = b.resources
        click.echo(f"{b.name:12s} {b.part:24s} {b.clock_mhz:5g} {r['lut']:8,} {r['ff']:8,} {r['bram18']:7,} "
                   f"{r['dsp']:6,} {r['lutram']:7,}")
