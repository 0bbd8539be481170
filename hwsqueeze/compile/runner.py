"""Runs the step table (:mod:`.pipeline`): resume with provenance checks, per-step files, checks.

``build/<board>/`` after a run: ``intermediate/NN_<step>.onnx`` (open with netron),
``build_state.json`` (what every step found and its provenance), ``build.log`` (FINN+'s own
output), the reports and ``deploy/``; ``build.json`` appears only when the build finished.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict

import numpy as np

from ..errors import MISSING_TOOL, HwsqueezeError
from ..logs import to_file
from ..fsutil import LOCK, folder_lock, sha256_file
from .config import BuildConfig, BuildState, StepRecord, provenance
from .pipeline import ESTIMATE_LAST, STEPS, Step, intermediate_path, step_index
from .steps.vivado import MissingTools
from .verify import compare, execute

__all__ = ["BuildContext", "BuildResult", "run_build"]


@dataclass
class BuildResult:
    status: str  # "bitstream", "no-bitstream" or "estimate-only"
    out_dir: Path
    summary: dict
    message: str = ""


@dataclass
class BuildContext:
    """What a step sees: the configuration, the state so far, FINN's environment, the log."""

    cfg: BuildConfig
    state: BuildState
    env: object
    log: Callable[[str], None]

    def path(self, *parts: str) -> Path:
        return self.cfg.out_dir.joinpath(*parts)

    def intermediate(self, name: str) -> Path:
        return intermediate_path(self.cfg.out_dir, name)


def _check_out_dir(out: Path) -> None:
    """Never build into (and so never replace files in) a folder this tool did not create."""
    if out.is_file():
        raise HwsqueezeError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(p.name != LOCK for p in out.iterdir()) and not (out / "build_state.json").is_file():
        raise HwsqueezeError(f"--out {out} is not empty and holds no earlier hwsqueeze build; "
                             "choose a new or empty folder (nothing was changed)")


def _resume_point(state: BuildState, prov: Dict[str, str], wanted: int, log: Callable[[str], None]) -> int:
    """The step to start from: ``wanted``, or the first earlier step whose inputs changed."""
    for i, step in enumerate(STEPS[:wanted]):
        rec = state.steps.get(step.name)
        if rec is None:
            raise HwsqueezeError(f"cannot resume from '{STEPS[wanted].name}': step '{step.name}' never finished "
                                 "in the earlier build; rerun without --from-step")
        changed = [k for k in step.depends if rec.inputs.get(k) != prov[k]]
        if changed:
            k = changed[0]
            log(f"  provenance: {k} changed since the earlier build (was '{rec.inputs.get(k)}', now '{prov[k]}'): "
                f"rebuilding from step '{step.name}' instead of '{STEPS[wanted].name}'")
            return i
    return wanted


def _check_input_file(cfg: BuildConfig, state: BuildState, start: int) -> Path:
    prev = STEPS[start - 1]
    rec = state.steps[prev.name]
    path = cfg.out_dir / rec.output if rec.output else None
    if path is None or not path.is_file():
        raise HwsqueezeError(f"cannot resume from '{STEPS[start].name}': the output of step '{prev.name}' "
                             f"({rec.output}) is missing; rerun from '{prev.name}' or earlier")
    if sha256_file(path) != rec.output_sha256:
        raise HwsqueezeError(f"cannot resume from '{STEPS[start].name}': {rec.output} changed after step "
                             f"'{prev.name}' wrote it (sha256 differs); rerun from '{prev.name}' or earlier")
    return path


def _verify(ctx: BuildContext, step: Step, model) -> None:
    """Outputs of ``model`` on the sample images against the export's or the streamlined logits
    (a step whose ``check`` names another step compares with the logits that step's table row
    ``writes``; a step that writes ``verify/<its name>_logits.npy`` keeps its outputs there)."""
    v = ctx.path("verify")
    images = np.load(v / "input.npy")
    truth = STEPS[step_index(step.check)]
    ref = np.load(ctx.path(next(w for w in truth.writes if w.endswith("_logits.npy"))))
    got = execute(model, images) * float(ctx.state.output.get("scale", 1.0))
    rec = compare(step.name, got, ref, vs_export=step.check == "export")
    ctx.state.checks[step.name] = rec.to_dict()
    ctx.log(rec.summary())
    mine = f"verify/{step.name}_logits.npy"
    if mine in step.writes:
        np.save(ctx.path(mine), got)


def run_build(cfg: BuildConfig) -> BuildResult:
    """Run the build steps in order (from ``cfg.from_step`` if it still holds) and write build.json.

    Progress is logged to ``hwsqueeze.build`` (and always to ``build.log``); configure logging to see it.
    """
    wanted = step_index(cfg.from_step) if cfg.from_step else 0
    stop = step_index(cfg.stop_step) if cfg.stop_step else len(STEPS) - 1
    if stop < wanted:
        raise HwsqueezeError(f"--stop-step {cfg.stop_step} comes before --from-step {cfg.from_step}")
    cfg.out_dir = Path(cfg.out_dir).resolve()
    try:
        _check_out_dir(cfg.out_dir)
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a parent that is a file, a read-only or virtual file system ...
        raise HwsqueezeError(f"--out {cfg.out_dir}: cannot create the folder ({e.strerror or e})") from None
    # one build per folder: a second one into the same --out is refused until the first ends
    with folder_lock(cfg.out_dir, "a build"), to_file(cfg.out_dir / "build.log"):
        return _run_steps(cfg, wanted, stop)


def _run_steps(cfg: BuildConfig, wanted: int, stop: int) -> BuildResult:
    from ..fsutil import write_json
    from .finn_env import activate, versions

    summary_path, state_path = cfg.out_dir / "build.json", cfg.out_dir / "build_state.json"
    log = logging.getLogger("hwsqueeze.build").info
    vers = versions()
    prov = provenance(cfg, vers)
    state, model, start = BuildState(), None, 0
    if wanted > 0:
        state = BuildState.load(state_path)
        start = _resume_point(state, prov, wanted, log)
        if start > 0:
            from qonnx.core.modelwrapper import ModelWrapper

            model = ModelWrapper(str(_check_input_file(cfg, state, start)))
    if summary_path.exists():
        summary_path.unlink()  # a build in progress or failed must not look complete
    write_json(cfg.out_dir / "build_config.json", cfg.to_json())  # what `build --replay` rebuilds from
    env = activate(cfg.out_dir)
    state.board, state.tools, state.versions, state.provenance = cfg.board.name, env.tools, vers, prov
    fresh = BuildState()
    for later in STEPS[start:]:  # what the rerun steps decide must not survive from the earlier build
        state.steps.pop(later.name, None)
        state.checks.pop(later.name, None)
        for name in later.sets:
            setattr(state, name, getattr(fresh, name))
    ctx = BuildContext(cfg=cfg, state=state, env=env, log=log)
    ctx.path("intermediate").mkdir(exist_ok=True)
    finn_name = ctx.path("intermediate_models")  # where FINN's builder puts them: same files
    if not finn_name.exists() and not finn_name.is_symlink():
        finn_name.symlink_to("intermediate")
    status, message = "bitstream", ""
    for i in range(start, len(STEPS)):
        step = STEPS[i]
        if cfg.estimate_only and i > step_index(ESTIMATE_LAST):
            status, message = "estimate-only", "estimate-only build: stopped after the estimates (no code " \
                                               "generation, no deploy package)"
            break
        if i > stop:
            status = "stopped"
            message = f"stopped after step '{STEPS[stop].name}' (--stop-step); continue with --from-step {step.name}"
            break
        log(f"[{i:02d}] {step.name}: {step.doc}")
        t0 = time.time()
        try:
            with open(cfg.out_dir / "build.log", "a", buffering=1) as flog, contextlib.redirect_stdout(flog), \
                    contextlib.redirect_stderr(flog):
                print(f"==== [{i:02d}] {step.name} {time.strftime('%Y-%m-%d %H:%M:%S')}")
                missing = ctx.env.missing_tools() if step.needs_tools else []
                if missing:  # the table's needs_tools, checked here for every step that declares it
                    raise MissingTools(missing)
                model = step.run(ctx, model)
                if step.check:
                    _verify(ctx, step, model)
        except MissingTools as e:
            status = "no-bitstream"
            message = (f"no bitstream was built: step '{step.name}' needs {' and '.join(e.tools)}, which "
                       f"{'is' if len(e.tools) == 1 else 'are'} not on PATH. Every Vivado-free stage is complete; "
                       f"install Vivado/Vitis 2022.2+ and rerun with --from-step {step.name}.")
            break
        except HwsqueezeError:
            state.save(state_path)
            raise
        except Exception as e:  # a FINN/qonnx failure: name the step, keep the traceback in the log
            state.save(state_path)
            first = str(e).splitlines()[0] if str(e) else ""
            raise HwsqueezeError(f"step '{step.name}' failed: {type(e).__name__}: {first} "
                                 f"(details in {cfg.out_dir / 'build.log'})") from e
        out = ctx.intermediate(step.name)
        model.save(str(out))
        state.steps[step.name] = StepRecord(inputs={k: prov[k] for k in step.depends},
                                            output=str(out.relative_to(cfg.out_dir)),
                                            output_sha256=sha256_file(out), seconds=round(time.time() - t0, 2))
        state.save(state_path)
    from .report import write_time_per_step

    write_time_per_step(cfg.out_dir, state.timings_s)
    summary = {"status": status, "message": message, **state.to_dict()}
    if status == "no-bitstream" and cfg.require_bitstream:
        raise HwsqueezeError(message + " (--require-bitstream)", exit_code=MISSING_TOOL)
    write_json(summary_path, summary)
    return BuildResult(status=status, out_dir=cfg.out_dir, summary=summary, message=message)
